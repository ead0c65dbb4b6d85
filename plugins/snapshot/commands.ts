// The steps of sleep-prep and wake: integrations' checkpoint and restore commands run concurrently, timed steps, their lines.

import type { CommandResult, CommandSpec } from "../../agent/command.ts";
import { failureDetail, firstLine, outputText } from "../../agent/capture.ts";
import type { PluginContext } from "../../agent/plugin.ts";
import type { Step } from "./schemas.ts";
import type { IntegrationSpec } from "./service.ts";

export type CommandKind = "checkpoint" | "restore";

export interface CommandStep extends Step {
  integration: IntegrationSpec;
  /** Not run at all (no time left); counted as a failure. */
  skipped: boolean;
}

export interface RunStepsOptions {
  run(spec: CommandSpec): Promise<CommandResult>;
  /** Milliseconds left before the drain deadline (checkpoints); absent for restores. */
  budgetMs?: () => number;
  /** Aborted when the agent stops: the runner kills the commands' process groups. */
  signal?: AbortSignal;
}

/** Output kept per stream: only the first line goes into a step's detail. */
const KEEP_BYTES = 4096;

/** `checkpoint:my-db` */
function stepName(kind: CommandKind, name: string): string {
  return `${kind}:${name}`;
}

/** Integrations that have a command of this kind, in list order. */
function withCommand(list: readonly IntegrationSpec[], kind: CommandKind): IntegrationSpec[] {
  return list.filter((i) => (kind === "checkpoint" ? i.checkpoint_cmd : i.restore_cmd)?.trim());
}

/**
 * Run every integration's command of `kind` at once, each under its `checkpoint_timeout_secs`
 * (and, for checkpoints, the time left before the drain deadline). Checkpoints kill what they
 * leave running when they exit (the guest must be quiet once sleep-prep answers); restores do not
 * (a restore may start a daemon). Steps come back in list order.
 */
export async function runCommandSteps(kind: CommandKind, list: readonly IntegrationSpec[], o: RunStepsOptions): Promise<CommandStep[]> {
  return Promise.all(
    withCommand(list, kind).map(async (integration): Promise<CommandStep> => {
      const name = stepName(kind, integration.name);
      const own = integration.checkpoint_timeout_secs * 1000;
      const left = o.budgetMs?.();
      if (left !== undefined && left <= 0)
        return { name, ok: false, duration_ms: 0, detail: "not run: the drain deadline had passed", integration, skipped: true };
      const byDeadline = left !== undefined && left < own;
      const timeoutMs = byDeadline ? Math.ceil(left) : own;
      const r = await o.run({
        command: kind === "checkpoint" ? integration.checkpoint_cmd : integration.restore_cmd,
        env: integration.env,
        cwd: integration.cwd,
        timeoutMs,
        killGroupOnExit: kind === "checkpoint",
        maxOutputBytes: KEEP_BYTES,
        signal: o.signal,
      });
      const fail = failureDetail(r, timeoutMs);
      const detail = fail
        ? r.timed_out && byDeadline
          ? `${fail} (the drain deadline)`
          : fail
        : firstLine(outputText(r.stdout)) || "exit 0";
      return { name, ok: fail === "", duration_ms: r.duration_ms, detail, integration, skipped: false };
    }),
  );
}

/** The wire form of a step (drops the bookkeeping fields). */
export function wireStep(s: Step): Step {
  return { name: s.name, ok: s.ok, duration_ms: s.duration_ms, detail: s.detail };
}

/** Milliseconds to two decimals, as steps report them. */
export const round = (ms: number) => Math.round(ms * 100) / 100;

/** Time one step of sleep-prep or wake; a throw becomes a failed step with `onError`'s detail. */
export async function timedStep(c: PluginContext, name: string, fn: () => Promise<string>, onError: (e: unknown) => string): Promise<Step> {
  const t0 = c.clock.monotonic();
  let ok = true;
  let detail: string;
  try {
    detail = await fn();
  } catch (e) {
    ok = false;
    detail = onError(e);
  }
  return { name, ok, duration_ms: round(c.clock.monotonic() - t0), detail };
}

/** One console line per step: info when ok, warn when it failed, error when a critical one failed. */
export function logStep(c: PluginContext, op: "sleep-prep" | "wake", s: Step, critical = false): void {
  const line = `${op}: ${s.name} ${s.ok ? "ok" : critical ? "FAILED" : "failed"} (${s.duration_ms} ms): ${s.detail}`;
  // JSON logs: the request, the step, the integration a checkpoint or restore belongs to, the duration.
  const integration = /^(?:checkpoint|restore):(.+)$/.exec(s.name)?.[1];
  const fields = { type: op, step: s.name, ...(integration ? { integration } : {}), duration_ms: s.duration_ms };
  if (s.ok) c.log.info(line, fields);
  else if (critical) c.log.error(line, fields);
  else c.log.warn(line, fields);
}
