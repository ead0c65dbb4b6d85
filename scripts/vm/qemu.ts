// Launch a QEMU guest (TCG by default) with the agent's virtio-serial port, QMP, and snapshot/restore to a file.

import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { QmpClient as Qmp } from "../../host/client/vmm/qmp.ts";

export interface VmOptions {
  kernel: string;
  initrd: string;
  /** Work directory: console.log, qemu.log, qmp.sock, serial.sock, state files. */
  dir: string;
  memoryMiB?: number;
  /** Use KVM instead of TCG (nested KVM hangs on some hosts; opt in). */
  kvm?: boolean;
  /** Extra kernel command line. */
  append?: string;
  /** Name of the virtio-serial port (default org.mvm.agent). */
  portName?: string;
}

/**
 * One QEMU process (and, after `restore`, its successor) for a test guest.
 * @example const vm = new Vm({ kernel, initrd, dir }); vm.start(); ... await vm.snapshot(); await vm.restore(); await vm.kill();
 */
export class Vm {
  readonly console: string;
  readonly serialSocket: string;
  readonly qmpSocket: string;
  readonly state: string;
  private proc: Subprocess | null = null;
  private qmpConn: Qmp | null = null;
  private exitInfo: string | null = null;

  constructor(readonly opts: VmOptions) {
    this.console = join(opts.dir, "console.log");
    this.serialSocket = join(opts.dir, "serial.sock");
    this.qmpSocket = join(opts.dir, "qmp.sock");
    this.state = join(opts.dir, "state.bin");
  }

  /** The command line; `incoming` adds `-incoming "exec:cat STATE" -S` (restore, paused until `cont`). */
  args(incoming?: string): string[] {
    const o = this.opts;
    const accel = o.kvm ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg", "-cpu", "max"];
    return [
      "qemu-system-x86_64",
      ...accel,
      "-m", String(o.memoryMiB ?? 1024),
      "-smp", "1",
      "-nodefaults", "-no-user-config", "-display", "none", "-vga", "none", "-no-reboot",
      "-kernel", o.kernel,
      "-initrd", o.initrd,
      "-append", `console=ttyS0 panic=-1 quiet loglevel=4 ${o.append ?? ""}`.trim(),
      "-chardev", `file,id=con,path=${this.console},append=on`,
      "-serial", "chardev:con",
      "-qmp", `unix:${this.qmpSocket},server=on,wait=off`,
      "-device", "virtio-serial-pci",
      "-chardev", `socket,id=ag,path=${this.serialSocket},server=on,wait=off`,
      "-device", `virtserialport,chardev=ag,name=${o.portName ?? "org.mvm.agent"}`,
      ...(incoming ? ["-incoming", `exec:cat ${incoming}`, "-S"] : []),
    ];
  }

  /** Boot (or, with `incoming`, start paused waiting for the state file). */
  start(incoming?: string): void {
    if (this.proc) throw new Error("the VM is already running");
    for (const s of [this.serialSocket, this.qmpSocket]) rmSync(s, { force: true });
    this.exitInfo = null;
    const log = Bun.file(join(this.opts.dir, "qemu.log"));
    const proc = Bun.spawn(this.args(incoming), { stdin: "ignore", stdout: log, stderr: log });
    this.proc = proc;
    void proc.exited.then((code) => {
      this.exitInfo = `QEMU exited with code ${code}${proc.signalCode ? ` (${proc.signalCode})` : ""}`;
      if (this.proc === proc) this.proc = null;
    });
  }

  get running(): boolean {
    return this.proc !== null;
  }

  /** Why QEMU is gone, or null while it runs. */
  get exited(): string | null {
    return this.exitInfo;
  }

  /** A connected QMP client (waits for the socket to appear). */
  async qmp(timeoutMs = 15_000): Promise<Qmp> {
    if (this.qmpConn) return this.qmpConn;
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(this.qmpSocket)) {
      if (!this.running) throw new Error(`no QMP socket: ${this.exitInfo ?? "QEMU is not running"}; ${this.qemuLog()}`);
      if (Date.now() > deadline) throw new Error(`no QMP socket after ${timeoutMs} ms`);
      await Bun.sleep(50);
    }
    this.qmpConn = await Qmp.connect(this.qmpSocket, { timeoutMs: Math.max(1000, deadline - Date.now()) });
    return this.qmpConn;
  }

  /** Pause, migrate the whole machine state to `this.state`, quit. Returns the state file's size. */
  async snapshot(timeoutMs = 60_000): Promise<number> {
    const q = await this.qmp();
    rmSync(this.state, { force: true });
    await q.execute("stop");
    await q.execute("migrate", { uri: `exec:cat > ${this.state}` });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = (await q.execute("query-migrate")) as { status?: string; "error-desc"?: string };
      if (m.status === "completed") break;
      if (m.status === "failed" || m.status === "cancelled") throw new Error(`migration ${m.status}: ${m["error-desc"] ?? "no detail"}`);
      if (Date.now() > deadline) throw new Error(`migration still ${m.status} after ${timeoutMs} ms`);
      await Bun.sleep(100);
    }
    await this.quit();
    return statSync(this.state).size;
  }

  /** Start a new QEMU from `this.state` and resume it (`cont`) once the state is loaded. */
  async restore(timeoutMs = 60_000): Promise<void> {
    this.start(this.state);
    const q = await this.qmp();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = (await q.execute("query-status")) as { status?: string };
      if (s.status === "paused" || s.status === "postmigrate" || s.status === "prelaunch") break;
      if (s.status === "running") return;
      if (s.status !== "inmigrate") throw new Error(`restore: unexpected VM status ${s.status}`);
      if (Date.now() > deadline) throw new Error(`restore: state not loaded after ${timeoutMs} ms`);
      await Bun.sleep(100);
    }
    await q.execute("cont");
  }

  /** QMP quit, then wait for the process. */
  async quit(timeoutMs = 15_000): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    try {
      await this.qmpConn?.execute("quit", undefined, { timeoutMs });
    } catch {
      // QEMU may close the socket before answering
    }
    this.qmpConn?.close();
    this.qmpConn = null;
    const t = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
    await proc.exited;
    clearTimeout(t);
  }

  /** Stop QEMU whatever its state (SIGTERM, then SIGKILL). */
  async kill(): Promise<void> {
    this.qmpConn?.close();
    this.qmpConn = null;
    const proc = this.proc;
    if (!proc) return;
    proc.kill("SIGTERM");
    const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
    await proc.exited;
    clearTimeout(t);
  }

  /** The last `lines` lines of the guest console. */
  consoleTail(lines = 40): string {
    try {
      return readFileSync(this.console, "utf8").split("\n").slice(-lines - 1).join("\n");
    } catch {
      return "(no console output)";
    }
  }

  qemuLog(): string {
    try {
      const t = readFileSync(join(this.opts.dir, "qemu.log"), "utf8").trim();
      return t ? `qemu.log: ${t.slice(-2000)}` : "qemu.log is empty";
    } catch {
      return "no qemu.log";
    }
  }
}
