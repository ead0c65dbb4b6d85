// takeSnapshot: check, sleep-prep, pause, write, then resume + wake or stay stopped, then the manifest; a failure before the write resumes and wakes.

import { randomBytes } from "node:crypto";
import { rmdirSync, rmSync } from "node:fs";
import type { ParamsOf, ResultOf } from "../../../agent/plugin.ts";
import type { SnapshotFile, VmmKind } from "../vmm/driver.ts";
import { VmmError } from "../vmm/errors.ts";
import { checkedCall } from "../checked.ts";
import { callDeadlineMs } from "../deadlines.ts";
import { failedRestores, wakeAgent, wakeDetail } from "./agent.ts";
import { prepareTargetDir } from "./dir.ts";
import { describeFiles, MANIFEST_FORMAT, writeManifest, type Manifest } from "./manifest.ts";
import { errorText, LoopError, StepFailure, Steps, type LoopRequest, type StepRecord, withVmClaimed } from "./steps.ts";

/** What happens to the VM once its state is written. */
export type AfterSnapshot = "resume" | "stop";

export interface SnapshotRequest extends LoopRequest {
  then: AfterSnapshot;
  /** Replace a snapshot DIR already holds (its files are deleted once the new manifest is in place). */
  overwrite?: boolean;
  /** sleep-prep's drain deadline (the agent's default is 30 s). */
  drainTimeoutSecs?: number;
  /** Deadline of the write step (default 600 s). */
  writeTimeoutMs?: number;
}

export interface SnapshotReport {
  vm: string;
  vmm: VmmKind;
  dir: string;
  then: AfterSnapshot;
  steps: StepRecord[];
  manifest: Manifest;
  duration_ms: number;
}

/** The sleep-prep answer said not ready: nothing is snapshotted from a guest that did not get ready. */
export class NotReadyError extends Error {}

function sleepPrepDetail(r: ResultOf<"sleep-prep">): string {
  const steps = r.steps.map((s) => `${s.name} ${s.ok ? "ok" : `FAILED (${s.detail})`}`).join(", ");
  return `${r.ready ? "ready" : "NOT READY"} in ${Math.round(r.duration_ms)} ms${steps ? `: ${steps}` : ""}`;
}

/** `s20261128T105719Z-1a2b`: a name no earlier snapshot in DIR has, so nothing is ever overwritten in place. */
function stem(now: number): string {
  return `s${new Date(now).toISOString().replace(/[-:]|\.\d+/g, "")}-${randomBytes(2).toString("hex")}`;
}

/**
 * Take a snapshot of a running VM into `dir`. Steps: `check` (the directory, the agent's status, the
 * VMM runs the VM), `sleep-prep` (not ready: the guest is woken and nothing is written), `pause`,
 * `write`, then `resume` + `wake` or `stop` (left paused), then `manifest` (written last, atomically).
 * A failure in sleep-prep, pause or write runs `recover` (cancel, resume) and `wake`, deletes what was
 * written, and throws LoopError naming the step. After the write the snapshot is whole: a failed
 * resume or wake is reported (LoopError) but the manifest is still written.
 * @example
 * const report = await takeSnapshot({ vm: "web1", vmm: openVmm(vm.vmm!), agent, dir: "/srv/snap/web1", then: "resume", callTimeoutMs: 5000, now: Date.now, onStep: print });
 */
export function takeSnapshot(req: SnapshotRequest): Promise<SnapshotReport> {
  return withVmClaimed(req, "snapshot", () => snapshotLoop(req));
}

async function snapshotLoop(req: SnapshotRequest): Promise<SnapshotReport> {
  const t0 = performance.now();
  const steps = new Steps(req.onStep);
  const callMs = req.callTimeoutMs;
  const overwrite = req.overwrite ?? false;
  let created = false;
  let sleptAt = false;
  let maybePaused = false;
  let files: SnapshotFile[] = [];
  let agentInfo: { version: string; build: "prod" | "dev" };
  let vmmVersion: string;

  const wake = async (step: string, deadlineMs: number): Promise<ResultOf<"wake">> =>
    steps.run(step, async () => {
      const { result, attempts } = await wakeAgent(req.agent, { now: req.now, callTimeoutMs: callMs, deadlineMs, sleep: req.sleep });
      const failed = failedRestores(result);
      if (failed.length) throw new Error(`woke, but ${failed.join(", ")} failed: ${wakeDetail(result)}`);
      return [result, `${wakeDetail(result)}${attempts > 1 ? ` (${attempts} attempts)` : ""}`];
    });

  try {
    [agentInfo, vmmVersion] = await steps.run("check", async () => {
      const target = prepareTargetDir(req.dir, overwrite);
      created = target.created;
      const status = await checkedCall(req.agent, "status", {}, callMs);
      const info = await req.vmm.info();
      if (!info.running) throw new VmmError("E_VMM_STATE", `the VM is not running (${info.kind} says ${info.state}): only a running VM is snapshotted`);
      const where = target.created ? "created" : target.replaces ? "replaces the snapshot there" : "exists, holds no snapshot";
      return [
        [{ version: status.version, build: status.build }, info.version],
        `agent ${status.version} (${status.build}), ${status.state}; ${info.kind} ${info.version}, ${info.state}; ${req.dir} ${where}`,
      ];
    });
    sleptAt = true;
    await steps.run("sleep-prep", async () => {
      const params: ParamsOf<"sleep-prep"> = req.drainTimeoutSecs === undefined ? {} : { drain_timeout_secs: req.drainTimeoutSecs };
      const r = await checkedCall(req.agent, "sleep-prep", params, callDeadlineMs("sleep-prep", params, callMs)!);
      if (!r.ready) throw new NotReadyError(`the guest is not ready for a snapshot: ${sleepPrepDetail(r)}`);
      return [null, sleepPrepDetail(r)];
    });
    maybePaused = true;
    await steps.run("pause", async () => [null, await req.vmm.pause()]);
    files = req.vmm.files(req.dir, stem(req.now()));
    await steps.run("write", async () => [null, await req.vmm.writeSnapshot(files, { timeoutMs: req.writeTimeoutMs ?? 600_000 })]);
  } catch (e) {
    const failure = e instanceof StepFailure ? e : new StepFailure("check", e);
    const done: string[] = [];
    if (maybePaused) {
      const r = await steps.attempt("recover", () => req.vmm.recover());
      done.push(r === null ? "the VM could NOT be resumed (see step recover)" : `the VM runs again (${r})`);
    }
    // A sleep-prep the agent refused as busy is another party's (another host process, a second bridge):
    // this loop put nothing to sleep, and a wake would break that one between its sleep-prep and pause.
    const othersSleep = failure.step === "sleep-prep" && (failure.cause as { code?: unknown } | null)?.code === "E_BUSY";
    if (sleptAt && !othersSleep) {
      const woke = await wake("wake", Math.max(callMs * 3, 10_000)).then(
        () => true,
        () => false,
      );
      done.push(woke ? "the agent was woken" : "waking the agent failed (see step wake; unwoken, its watchdog resumes it later)");
    }
    for (const f of files) rmSync(f.path, { force: true });
    if (created) {
      try {
        rmdirSync(req.dir); // ours and empty: leave no trace
      } catch {}
    }
    if (files.length) done.push(`nothing was kept in ${req.dir}`);
    await req.vmm.close().catch(() => {});
    const tail = done.length ? `; ${done.join("; ")}` : "";
    throw new LoopError(failure.step, failure.cause, `snapshot of ${req.vm} failed at step ${failure.step}: ${errorText(failure.cause)}${tail}`, steps.done);
  }

  // The state is written: from here on the snapshot is whole, whatever happens to the VM.
  const late: StepFailure[] = [];
  if (req.then === "resume") {
    const resumed = await steps.run("resume", async () => [null, await req.vmm.resume()]).then(
      () => true,
      (e: StepFailure) => void late.push(e),
    );
    if (resumed) await wake("wake", req.wakeTimeoutMs ?? 60_000).catch((e: StepFailure) => void late.push(e));
  } else steps.record("stop", true, 0, `left paused (${req.vmm.label}); the agent stays asleep until a restore wakes it: stop the VMM process when you are done`);
  await req.vmm.close().catch(() => {});

  let manifest: Manifest;
  try {
    manifest = await steps.run("manifest", async () => {
      const m: Manifest = {
        format: MANIFEST_FORMAT,
        vm: req.vm,
        vmm: { kind: req.vmm.kind, version: vmmVersion },
        agent: agentInfo,
        created_at: new Date(req.now()).toISOString(),
        files: await describeFiles(files),
      };
      const old = writeManifest(req.dir, m, { overwrite });
      let removed = 0;
      for (const f of old?.files ?? []) {
        if (m.files.some((n) => n.name === f.name)) continue;
        rmSync(`${req.dir}/${f.name}`, { force: true });
        removed++;
      }
      const mib = (m.files.reduce((a, f) => a + f.size, 0) / 2 ** 20).toFixed(1);
      return [m, `${m.files.map((f) => f.name).join(", ")}: ${mib} MiB, sha256 ${m.files[0]!.sha256.slice(0, 12)}…${old ? `; replaced the old snapshot (${removed} file${removed === 1 ? "" : "s"} removed)` : ""}`];
    });
  } catch (e) {
    const f = e as StepFailure;
    for (const file of files) rmSync(file.path, { force: true });
    const vmState = req.then === "resume" && !late.length ? "the VM runs" : "the VM is as the steps above say";
    throw new LoopError("manifest", f.cause, `snapshot of ${req.vm} failed at step manifest: ${errorText(f.cause)}; the state files were deleted (no manifest, no snapshot); ${vmState}`, steps.done);
  }
  if (late.length) {
    const f = late[0]!;
    throw new LoopError(f.step, f.cause, `snapshot of ${req.vm} is whole in ${req.dir}, but step ${f.step} failed: ${errorText(f.cause)}`, steps.done);
  }
  return { vm: req.vm, vmm: req.vmm.kind, dir: req.dir, then: req.then, steps: steps.done, manifest, duration_ms: Math.round(performance.now() - t0) };
}
