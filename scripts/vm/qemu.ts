// Launch a QEMU guest (TCG by default) with the agent's virtio-serial port and QMP, or one waiting for state (-incoming defer).

import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { QmpClient } from "../../host/client/vmm/qmp.ts";

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
 * One QEMU process (and, after a restore, its successor) for a test guest. Snapshots and restores are
 * mvmctl's job (`mvmctl snapshot` / `mvmctl restore` through QMP): this class only starts and stops QEMU.
 * @example const vm = new Vm({ kernel, initrd, dir }); vm.start(); ... await vm.kill(); vm.start({ incoming: "defer" });
 */
export class Vm {
  readonly console: string;
  readonly serialSocket: string;
  readonly qmpSocket: string;
  private proc: Subprocess | null = null;
  private qmpConn: QmpClient | null = null;
  private exitInfo: string | null = null;

  constructor(readonly opts: VmOptions) {
    this.console = join(opts.dir, "console.log");
    this.serialSocket = join(opts.dir, "serial.sock");
    this.qmpSocket = join(opts.dir, "qmp.sock");
  }

  /**
   * The command line; `incoming` adds `-incoming URI -S`: with `defer` QEMU waits for a `migrate-incoming`
   * (what `mvmctl restore` sends), and `-S` keeps the loaded VM paused until `cont`.
   */
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
      ...(incoming ? ["-incoming", incoming, "-S"] : []),
    ];
  }

  /** Boot, or with `incoming: "defer"` start a QEMU that waits for a restore. */
  start(opts: { incoming?: string } = {}): void {
    const incoming = opts.incoming;
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

  /**
   * A connected QMP client (waits for the socket to appear). QEMU serves one QMP client at a time:
   * close it (`closeQmp()`) before mvmctl drives this VM.
   */
  async qmp(timeoutMs = 15_000): Promise<QmpClient> {
    if (this.qmpConn) return this.qmpConn;
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(this.qmpSocket)) {
      if (!this.running) throw new Error(`no QMP socket: ${this.exitInfo ?? "QEMU is not running"}; ${this.qemuLog()}`);
      if (Date.now() > deadline) throw new Error(`no QMP socket after ${timeoutMs} ms`);
      await Bun.sleep(50);
    }
    this.qmpConn = await QmpClient.connect(this.qmpSocket, { timeoutMs: Math.max(1000, deadline - Date.now()) });
    return this.qmpConn;
  }

  /** Let go of our QMP connection (so that another client, such as mvmctl, gets the greeting). */
  closeQmp(): void {
    this.qmpConn?.close();
    this.qmpConn = null;
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
