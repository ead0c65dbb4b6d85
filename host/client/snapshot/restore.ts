// restoreSnapshot: check the manifest and the waiting VMM, load, wake the agent with the host's clock, report health.

import type { ResultOf } from "../../../agent/plugin.ts";
import type { VmmKind } from "../vmm/driver.ts";
import { VmmError } from "../vmm/errors.ts";
import { checkedCall } from "../checked.ts";
import { failedRestores, wakeAgent, wakeDetail } from "./agent.ts";
import { readManifest, verifyManifest, type Manifest } from "./manifest.ts";
import { errorText, LoopError, StepFailure, Steps, type LoopRequest, type StepRecord, withVmClaimed } from "./steps.ts";

export interface RestoreRequest extends LoopRequest {
  /** Load a snapshot taken of another VM (a clone). */
  allowOtherVm?: boolean;
  /** Deadline of the load (default 600 s). */
  loadTimeoutMs?: number;
}

/** The restored guest's health: null without a health plugin. */
export interface RestoredHealth {
  ready: boolean;
  integrations: { name: string; status: string }[];
}

export interface RestoreReport {
  vm: string;
  vmm: VmmKind;
  dir: string;
  manifest: Manifest;
  steps: StepRecord[];
  wake: ResultOf<"wake">;
  /** Restore commands that failed in wake (the guest runs; exit 1 as `mvmctl wake`). */
  failed_restores: string[];
  state: string;
  health: RestoredHealth | null;
  duration_ms: number;
}

/**
 * A VMM just started may not have its socket yet (`firecracker --api-sock S & mvmctl restore ...`):
 * ask again while it is unreachable, up to `ms`.
 */
async function reachable<T>(fn: () => Promise<T>, ms: number, sleep = (t: number) => new Promise<void>((r) => setTimeout(r, t))): Promise<T> {
  const end = performance.now() + ms;
  for (let pause = 50; ; pause = Math.min(500, pause * 2)) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof VmmError && e.code === "E_VMM_UNREACHABLE") || performance.now() + pause > end) throw e;
      await sleep(pause);
    }
  }
}

function healthDetail(h: RestoredHealth | null): string {
  if (!h) return "no health plugin";
  const counts = new Map<string, number>();
  for (const i of h.integrations) counts.set(i.status, (counts.get(i.status) ?? 0) + 1);
  const c = [...counts].map(([s, n]) => `${n} ${s}`).join(", ");
  return `${h.ready ? "ready" : "not ready yet"}${c ? ` (${c})` : " (no integrations)"}`;
}

/**
 * Restore a snapshot into a VMM process that waits for it (QEMU `-incoming defer`, a fresh
 * Firecracker). Steps: `check` (the manifest against its files, the VMM kind and the VM, and that the
 * VMM waits: a bad manifest is refused before anything is loaded), `load`, `wake` (with the host's wall
 * clock, retried while the agent comes back), `health` (status and health, as they are now).
 * @example const report = await restoreSnapshot({ vm: "web1", vmm: openVmm(vm.vmm!), agent, dir, callTimeoutMs: 5000, now: Date.now });
 */
export function restoreSnapshot(req: RestoreRequest): Promise<RestoreReport> {
  return withVmClaimed(req, "restore", () => restoreLoop(req));
}

async function restoreLoop(req: RestoreRequest): Promise<RestoreReport> {
  const t0 = performance.now();
  const steps = new Steps(req.onStep);
  const callMs = req.callTimeoutMs;
  try {
    const [manifest, files] = await steps.run("check", async () => {
      const m = readManifest(req.dir);
      const files = await verifyManifest(req.dir, m, { kind: req.vmm.kind, vm: req.vm, allowOtherVm: req.allowOtherVm });
      const info = await reachable(() => req.vmm.info(), callMs, req.sleep);
      if (!info.waiting)
        throw new VmmError(
          "E_VMM_STATE",
          info.kind === "qemu"
            ? `QEMU is not waiting for state (status ${info.state}): start a new QEMU with the VM's devices and -incoming defer`
            : `Firecracker is not a fresh process (state ${info.state}): start a new firecracker --api-sock process`,
        );
      const mib = (m.files.reduce((a, f) => a + f.size, 0) / 2 ** 20).toFixed(1);
      const other = m.vm !== req.vm ? ` (a snapshot of ${m.vm})` : "";
      const versions = m.vmm.version !== info.version ? `; taken by ${m.vmm.kind} ${m.vmm.version}, loading into ${info.version}` : "";
      return [
        [m, files] as const,
        `manifest of ${m.created_at}${other}: ${m.files.length} file${m.files.length === 1 ? "" : "s"}, ${mib} MiB, sizes and sha256 ok; ${info.kind} ${info.version} waits (${info.state})${versions}`,
      ];
    });
    await steps.run("load", async () => [null, await req.vmm.restore(files, { timeoutMs: req.loadTimeoutMs ?? 600_000 })]);
    await req.vmm.close().catch(() => {});
    const woken = await steps.run("wake", async () => {
      const { result, attempts } = await wakeAgent(req.agent, { now: req.now, callTimeoutMs: callMs, deadlineMs: req.wakeTimeoutMs ?? 60_000, sleep: req.sleep });
      return [result, `${wakeDetail(result)}${attempts > 1 ? ` (${attempts} attempts)` : ""}`];
    });
    const { state, health } = await steps.run("health", async () => {
      const status = await checkedCall(req.agent, "status", {}, callMs);
      let health: RestoredHealth | null = null;
      try {
        const h = await checkedCall(req.agent, "health", {}, callMs);
        health = { ready: h.ready, integrations: h.integrations.map((i) => ({ name: i.name, status: i.status })) };
      } catch (e) {
        if ((e as { code?: unknown })?.code !== "E_UNKNOWN_REQUEST") throw e;
      }
      return [{ state: status.state, health }, `agent ${status.state}; health ${healthDetail(health)}`];
    });
    return {
      vm: req.vm,
      vmm: req.vmm.kind,
      dir: req.dir,
      manifest,
      steps: steps.done,
      wake: woken,
      failed_restores: failedRestores(woken),
      state,
      health,
      duration_ms: Math.round(performance.now() - t0),
    };
  } catch (e) {
    await req.vmm.close().catch(() => {});
    const f = e instanceof StepFailure ? e : new StepFailure("check", e);
    const where =
      f.step === "check"
        ? "nothing was loaded"
        : f.step === "load"
          ? "the VMM did not load it: start a new VMM process before trying again"
          : f.step === "wake"
            ? "the VM runs, but its agent was not woken: run mvmctl wake (its watchdog resumes it after --resume-after-secs of guest run time)"
            : "the VM runs and its agent was woken";
    throw new LoopError(f.step, f.cause, `restore of ${req.vm} failed at step ${f.step}: ${errorText(f.cause)}; ${where}`, steps.done);
  }
}
