// SleepPrep, Wake, PostRestore and CheckpointIntegrations: the snapshot plugin's requests and its own checkpoint runner.

import type { Static } from "@sinclair/typebox";
import { describeError } from "../../agent/errors.ts";
import type { ResultOf } from "../../agent/plugin.ts";
import { codeOf, failedCall, integrationSpecs, type IntegrationSpec, type VerbDeps } from "./context.ts";
import type {
  CheckpointIntegrationsPayload,
  CheckpointResult,
  MvmError,
  PostRestoreAck,
  SleepPrepAck,
  SleepPrepPayload,
  WakeAck,
} from "./schemas.ts";
import { oneLine } from "./text.ts";

type SleepPrepResult = ResultOf<"sleep-prep">;
type WakeResult = ResultOf<"wake">;
type Step = SleepPrepResult["steps"][number];

/** The snapshot plugin's bounds on drain_timeout_secs; the host's u64 is clamped into them. */
const MIN_DRAIN_SECS = 1;
const MAX_DRAIN_SECS = 3600;
/** Longest detail string we build from many steps. */
const MAX_DETAIL = 16 * 1024;

function bounded(parts: string[]): string {
  const s = parts.join("; ");
  return s.length > MAX_DETAIL ? `${s.slice(0, MAX_DETAIL)}...` : s;
}

/** The original's sentence for sync and drop caches, then what else happened. */
export function sleepPrepDetail(r: SleepPrepResult): string {
  const sync = r.steps.find((s) => s.name === "sync");
  const drop = r.steps.find((s) => s.name === "drop-caches");
  const parts: string[] = [];
  if (sync && !sync.ok) parts.push(`sync failed: ${oneLine(sync.detail)}`);
  else parts.push(drop?.ok ? "filesystems synced, page cache dropped" : `filesystems synced, page cache drop failed (${oneLine(drop?.detail ?? "not run")})`);
  const checkpoints = r.steps.filter((s) => s.name.startsWith("checkpoint:"));
  if (checkpoints.length) parts.push(`checkpoints: ${checkpoints.map(stepText).join(", ")}`);
  if (!r.ready) parts.push("not ready (a critical checkpoint or sync failed)");
  return bounded(parts);
}

function stepText(s: Step): string {
  const name = s.name.slice(s.name.indexOf(":") + 1);
  return s.ok ? `${name} ok` : `${name} FAILED (${oneLine(s.detail)})`;
}

/**
 * `{"SleepPrep":{"drain_timeout_secs":N}}` -> sleep-prep (pause, checkpoints, sync, drop caches).
 * success is sleep-prep's `ready`; a refusal (already busy) is `success:false` with the reason.
 */
export async function sleepPrep(d: VerbDeps, p: SleepPrepPayload): Promise<Static<typeof SleepPrepAck> | MvmError> {
  const secs = Math.min(Math.max(p.drain_timeout_secs, MIN_DRAIN_SECS), MAX_DRAIN_SECS);
  if (secs !== p.drain_timeout_secs) d.ctx.log.info(`SleepPrep: drain_timeout_secs ${p.drain_timeout_secs} taken as ${secs} (sleep-prep allows ${MIN_DRAIN_SECS} to ${MAX_DRAIN_SECS})`);
  let r: SleepPrepResult;
  try {
    r = await d.ctx.call("sleep-prep", { drain_timeout_secs: secs });
  } catch (e) {
    if (codeOf(e) === "E_UNKNOWN_REQUEST" || !codeOf(e)) return failedCall(d, "SleepPrep", "sleep-prep", e);
    return { SleepPrepAck: { success: false, detail: `sleep-prep refused: ${describeError(e)}` } };
  }
  return { SleepPrepAck: { success: r.ready, detail: sleepPrepDetail(r) } };
}

async function callWake(d: VerbDeps): Promise<WakeResult> {
  return d.ctx.call("wake", {});
}

/** `"Wake"` -> wake (restore commands, grace restarted, schedules resumed). success: every step ok. */
export async function wake(d: VerbDeps): Promise<Static<typeof WakeAck> | MvmError> {
  try {
    const r = await callWake(d);
    const failed = r.steps.filter((s) => !s.ok);
    if (failed.length) d.ctx.log.warn(`Wake: answering success:false: ${failed.map(stepText).join(", ")}`);
    return { WakeAck: { success: failed.length === 0 } };
  } catch (e) {
    if (codeOf(e) === "E_UNKNOWN_REQUEST" || !codeOf(e)) return failedCall(d, "Wake", "wake", e);
    d.ctx.log.warn(`Wake: answering success:false: wake refused: ${describeError(e)}`);
    return { WakeAck: { success: false } };
  }
}

/**
 * `"PostRestore"` -> wake as well (the original signalled init with `kill -USR1 1`; our restore
 * commands are the integrations' restore_cmd). The detail says what ran; after a Wake it is a no-op.
 */
export async function postRestore(d: VerbDeps): Promise<Static<typeof PostRestoreAck> | MvmError> {
  let r: WakeResult;
  try {
    r = await callWake(d);
  } catch (e) {
    if (codeOf(e) === "E_UNKNOWN_REQUEST" || !codeOf(e)) return failedCall(d, "PostRestore", "wake", e);
    return { PostRestoreAck: { success: false, detail: `wake refused: ${describeError(e)}` } };
  }
  const restores = r.steps.filter((s) => s.name.startsWith("restore:"));
  const ok = r.steps.every((s) => s.ok);
  let detail: string;
  if (!r.was_sleeping) detail = "wake ran: the guest was not sleeping (no sleep-prep since the last wake), so no restore command ran and nothing was resumed";
  else
    detail = bounded([
      `wake ran: ${restores.length ? `restore commands: ${restores.map(stepText).join(", ")}` : "no restore command configured"}`,
      "health grace restarted, schedules resumed",
    ]);
  return { PostRestoreAck: { success: ok, detail } };
}

/**
 * `{"CheckpointIntegrations":{"integrations":[...]}}`: run the named integrations' checkpoint_cmd
 * now (the snapshot plugin's runner). Unknown names and failed commands are in `failed`; an
 * integration without checkpoint_cmd is not a failure. Refused while a sleep-prep runs its own.
 */
export async function checkpointIntegrations(d: VerbDeps, p: CheckpointIntegrationsPayload): Promise<Static<typeof CheckpointResult>> {
  const names = [...new Set(p.integrations)];
  const snapshot = d.ctx.service("snapshot");
  if (snapshot?.state === "preparing" && names.length) {
    return { CheckpointResult: { success: false, failed: names, detail: "refused: a sleep-prep is running its checkpoints now; ask again after it answers" } };
  }
  const specs = integrationSpecs(d);
  const missing = specs === null ? "no integrations (health plugin not loaded)" : "no such integration";
  const byName = new Map((specs ?? []).map((s) => [s.name, s]));
  const found = names.map((n) => byName.get(n)).filter((s): s is IntegrationSpec => s !== undefined);
  if (found.length && !snapshot) {
    const detail = "not run: the snapshot plugin, which runs checkpoint commands, is not loaded";
    d.ctx.log.warn(`CheckpointIntegrations: ${detail}`);
    return { CheckpointResult: { success: false, failed: names, detail } };
  }
  const steps = snapshot ? await snapshot.checkpoint(found, { signal: d.stopping }) : [];
  const stepOf = new Map(steps.map((s) => [s.integration.name, s]));
  const now = d.ctx.clock.now();
  const failed: string[] = [];
  const parts: string[] = [];
  for (const n of names) {
    const s = stepOf.get(n);
    if (!byName.has(n)) {
      failed.push(n);
      parts.push(`${n}: ${missing}`);
    } else if (!s) parts.push(`${n}: no checkpoint_cmd, nothing to run`);
    else {
      const line = `CheckpointIntegrations: ${s.name} ${s.ok ? "ok" : "failed"} (${s.duration_ms} ms): ${s.detail}`;
      const fields = { type: "mvm:CheckpointIntegrations", integration: n, duration_ms: s.duration_ms };
      if (s.ok) {
        d.ctx.log.info(line, fields);
        d.checkpoints.set(n, now);
        parts.push(`${n}: ok (${oneLine(s.detail)})`);
      } else {
        d.ctx.log.warn(line, fields);
        failed.push(n);
        parts.push(`${n}: FAILED (${oneLine(s.detail)})`);
      }
    }
  }
  if (failed.length) d.ctx.log.warn(`CheckpointIntegrations: failed: ${failed.join(", ")}`);
  const detail = names.length === 0 ? "no integration named; nothing to run" : bounded(parts);
  return { CheckpointResult: { success: failed.length === 0, failed, detail } };
}
