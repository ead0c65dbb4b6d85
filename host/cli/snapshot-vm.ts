// `mvmctl snapshot VM --to DIR` and `mvmctl restore VM --from DIR`: the whole loop through the VM's VMM, each step streamed with its time.

import { printable } from "../client/printable.ts";
import { SnapshotDirError, checkDirText } from "../client/snapshot/dir.ts";
import { restoreSnapshot } from "../client/snapshot/restore.ts";
import { takeSnapshot } from "../client/snapshot/snapshot.ts";
import type { LoopRequest } from "../client/snapshot/steps.ts";
import { openVmm, type VmmDriver } from "../client/vmm/driver.ts";
import type { VmEntry, VmmConfig } from "../client/vm-list.ts";
import { paramLimits } from "../client/deadlines.ts";
import { defineCommand, EXIT, secondsFlag, UsageError, type Ctx } from "./command.ts";
import { formatBytes, formatDuration, statusWord } from "./format.ts";
import { paint } from "./io.ts";
import { stepRenderer } from "./progress.ts";
import { JSON_FORMATS, JSON_OUTPUT, jsonText, outputMode } from "./output.ts";

const STEP_WIDTH = 10;

function vmmOf(vm: VmEntry, cmd: string): VmmConfig {
  if (!vm.vmm)
    throw new UsageError(`${cmd}: VM ${vm.name} has no vmm in vms.json: add "vmm": {"kind": "qemu", "qmp": "/path/qmp.sock"} or {"kind": "firecracker", "api": "/path/api.sock"}`);
  return vm.vmm;
}


/** `--to DIR` / `--from DIR`: required, no control characters, made absolute against the working directory. */
function dirArg(raw: string | undefined, flag: string, cmd: string): string {
  if (raw === undefined) throw new UsageError(`${cmd}: --${flag} DIR is required`);
  try {
    return checkDirText(raw, process.cwd(), `--${flag}`);
  } catch (e) {
    if (e instanceof SnapshotDirError) throw new UsageError(`${cmd}: ${e.message}`);
    throw e;
  }
}

/**
 * What snapshot and restore share: the VM and its VMM, the header line, the step lines, the first
 * Ctrl-C only saying why the operation goes on (stopping half-way could leave the VM paused), and
 * --json printing the report at the end. Resolves with the report.
 */
async function runLoop<R>(
  ctx: Ctx,
  what: "snapshot" | "restore",
  vmName: string,
  values: { "wake-timeout": number; json?: boolean | undefined; output?: string | undefined },
  header: (vmm: VmmDriver) => string,
  op: (base: Omit<LoopRequest, "dir">) => Promise<R>,
): Promise<R> {
  const vm = ctx.vm(vmName);
  const vmm = openVmm(vmmOf(vm, what), { callTimeoutMs: ctx.io.globals.timeoutMs });
  const wake = secondsFlag(what, "wake-timeout", values["wake-timeout"], 3600)!;
  const json = outputMode(what, values, JSON_FORMATS) === "json";
  if (!json) ctx.io.out(`${vm.name}: ${header(vmm)}\n`);
  const say = () => ctx.io.err(`mvmctl: finishing the ${what} first (stopping half-way could leave the VM paused); Ctrl-C again to leave at once\n`);
  ctx.io.signal.addEventListener("abort", say, { once: true });
  const steps = json ? null : stepRenderer(ctx.io, STEP_WIDTH);
  try {
    const r = await op({
      vm: vm.name,
      vmm,
      agent: (type, params, o) => ctx.call(vm, type, params, o),
      callTimeoutMs: ctx.io.globals.timeoutMs,
      wakeTimeoutMs: wake * 1000,
      now: () => ctx.io.now(),
      onStep: (e) => steps?.step({ name: e.step, status: e.status, ms: e.ms, detail: e.detail }),
    });
    if (json) ctx.io.out(jsonText(r));
    return r;
  } finally {
    steps?.close();
    ctx.io.signal.removeEventListener("abort", say);
  }
}

export const snapshotCommand = defineCommand({
  name: "snapshot",
  summary: "Snapshot a VM through its VMM: sleep-prep, pause, write, then resume and wake (or stop), manifest.",
  usage: "snapshot VM --to DIR [--resume | --stop] [--overwrite] [--drain-timeout SECS] [--write-timeout SECS] [-o json]",
  details: `
Steps, each printed with its time as it ends:
  check       the directory, the agent's status, the VMM runs the VM
  sleep-prep  the agent quiets the guest; not ready: the guest is woken and nothing is written
  pause       QEMU: stop; Firecracker: PATCH /vm Paused
  write       QEMU: migrate to DIR/<name>.qemu-state; Firecracker: PUT /snapshot/create (vmstate + memory)
  resume      (default, --resume) let the VM run again, then
  wake        the agent, with the host's time
  stop        (--stop) leave the VM paused, its agent asleep: stop the VMM process yourself
  manifest    DIR/manifest.json (VM, VMM, agent, time, files with size and sha256), written last
A failure in sleep-prep, pause or write resumes the VM, wakes the agent and removes what was written;
the message names the step. A DIR that already holds a snapshot is refused (--overwrite replaces it;
the old one stays whole until the new one is). DIR must be writable by the VMM's user.
Exit codes: 0 done; 1 not ready, or DIR refused; 3/4/5 the agent (as for other commands); 6 the VMM.
-o json (or --json) prints one document at the end: { vm, vmm, dir, then, steps: [{ step, ok, ms, detail }], manifest, duration_ms }.`,
  flags: {
    to: { type: "string", description: "The directory to write the snapshot to (created 0700 if missing)." },
    resume: { type: "boolean", description: "Afterwards, let the VM run again and wake its agent (the default)." },
    stop: { type: "boolean", description: "Afterwards, leave the VM paused (to stop or move it)." },
    overwrite: { type: "boolean", description: "Replace a snapshot DIR already holds." },
    "drain-timeout": { type: "number", description: `sleep-prep's deadline in seconds (the agent's default is ${paramLimits("sleep-prep", "drain_timeout_secs").default}).` },
    "write-timeout": { type: "number", description: "Deadline of the write step in seconds.", default: 600 },
    "wake-timeout": { type: "number", description: "How long wake is retried after resume, in seconds.", default: 60 },
    ...JSON_OUTPUT,
  },
  args: { min: 1, max: 1 },
  complete: { args: ["vm"], values: { to: "dir", output: JSON_FORMATS } },
  async run(ctx, { values, args }) {
    if (values.resume && values.stop) throw new UsageError("snapshot: --resume and --stop exclude each other");
    const dir = dirArg(values.to, "to", "snapshot");
    const drain = secondsFlag("snapshot", "drain-timeout", values["drain-timeout"], paramLimits("sleep-prep", "drain_timeout_secs").maximum);
    const write = secondsFlag("snapshot", "write-timeout", values["write-timeout"], 86_400)!;
    const then = values.stop ? "stop" : "resume";
    const r = await runLoop(ctx, "snapshot", args[0]!, values, (vmm) => `snapshot to ${printable(dir)} through ${printable(vmm.label)}, then ${then}`, (base) =>
      takeSnapshot({
        ...base,
        dir,
        then,
        overwrite: values.overwrite === true,
        ...(drain !== undefined ? { drainTimeoutSecs: drain } : {}),
        writeTimeoutMs: write * 1000,
      }),
    );
    if (outputMode("snapshot", values, JSON_FORMATS) !== "json") {
      const n = r.manifest.files.length;
      const bytes = r.manifest.files.reduce((a, f) => a + f.size, 0);
      ctx.io.out(`${r.vm}: ${statusWord("ok", ctx.io.color)}: snapshot in ${printable(dir)} (${n} file${n === 1 ? "" : "s"}, ${formatBytes(bytes)}) in ${formatDuration(r.duration_ms)}; the VM ${then === "resume" ? "runs" : "is paused"}\n`);
    }
    return EXIT.OK;
  },
});

export const restoreCommand = defineCommand({
  name: "restore",
  summary: "Restore a VM's snapshot into a VMM waiting for it, wake the agent with the host's clock, show health.",
  usage: "restore VM --from DIR [--other-vm] [--load-timeout SECS] [--wake-timeout SECS] [-o json]",
  details: `
Start the VMM first, waiting for state: QEMU with the VM's devices and -incoming defer (and -S, so
that it starts only when loaded), or a fresh firecracker --api-sock process. Then:
  check   DIR/manifest.json against its files (sizes, sha256), the VMM kind and the VM; the VMM waits
          (a damaged or mismatched snapshot is refused before anything is loaded)
  load    QEMU: migrate-incoming from the state file, then cont; Firecracker: PUT /snapshot/load with resume_vm
  wake    the agent, with the host's time (the guest's clock is back in the present); retried while it comes back
  health  the agent's state and health now (integrations restart their startup grace at wake)
Exit codes: 0 done; 1 damaged or mismatched snapshot, or a restore command failed in wake; 3/4/5 the
agent; 6 the VMM. -o json (or --json): { vm, vmm, dir, manifest, steps, wake, failed_restores, state, health, duration_ms }.`,
  flags: {
    from: { type: "string", description: "The snapshot directory (holding manifest.json)." },
    "other-vm": { type: "boolean", description: "Load a snapshot taken of another VM (a clone)." },
    "load-timeout": { type: "number", description: "Deadline of the load step in seconds.", default: 600 },
    "wake-timeout": { type: "number", description: "How long wake is retried while the agent comes back, in seconds.", default: 60 },
    ...JSON_OUTPUT,
  },
  args: { min: 1, max: 1 },
  complete: { args: ["vm"], values: { from: "dir", output: JSON_FORMATS } },
  async run(ctx, { values, args }) {
    const dir = dirArg(values.from, "from", "restore");
    const load = secondsFlag("restore", "load-timeout", values["load-timeout"], 86_400)!;
    const r = await runLoop(ctx, "restore", args[0]!, values, (vmm) => `restore from ${printable(dir)} through ${printable(vmm.label)}`, (base) =>
      restoreSnapshot({ ...base, dir, allowOtherVm: values["other-vm"] === true, loadTimeoutMs: load * 1000 }),
    );
    const failed = r.failed_restores.length > 0;
    if (outputMode("restore", values, JSON_FORMATS) !== "json") {
      const c = ctx.io.color;
      const health = r.health ? (r.health.ready ? statusWord("ready", c) : statusWord("not ready", c)) : "no health plugin";
      const head = failed ? paint(c, "red", `restored, but ${r.failed_restores.join(", ")} failed`) : statusWord("ok", c);
      ctx.io.out(`${r.vm}: ${head}: restored in ${formatDuration(r.duration_ms)}; agent ${r.state}; health ${health}\n`);
    }
    return failed ? EXIT.NOT_OK : EXIT.OK;
  },
});
