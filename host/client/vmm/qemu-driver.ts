// The QEMU driver: pause (stop), write the state with migrate to a file, resume (cont), restore with migrate-incoming.

import { statSync } from "node:fs";
import { join } from "node:path";
import { hasControl } from "../printable.ts";
import type { DriverOptions, SnapshotFile, VmmDriver, VmmInfo } from "./driver.ts";
import { VmmError } from "./errors.ts";
import { QmpClient } from "./qmp.ts";

type Status = { status: string; running: boolean };
type Migrate = { status?: string; "error-desc"?: string; ram?: { transferred?: number } };
type Version = { qemu: { major: number; minor: number; micro: number } };

function nonEmpty(path: string): boolean {
  try {
    return statSync(path).size > 0;
  } catch {
    return false;
  }
}

/** How often a running migration is asked how far it is. */
const POLL_MS = 50;
/** Migration speed while writing to a file: no throttle (QEMU's default is 128 MiB/s, meant for networks). */
const FILE_BANDWIDTH = 2 ** 50;

/** `'it'\''s'`: one word for /bin/sh, whatever the path holds. */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The migration URI for a state file: `file:PATH` on QEMU 8.2 and later, else (or when the path holds a
 * comma, which file: would take for an option) `exec:` through /bin/sh with the path quoted. Saving
 * sets umask 077 so the state file (guest memory) is readable by QEMU's user only, and removes a file
 * that cat could not finish: QEMU waits for the command but ignores its exit status, so a missing
 * file after "completed" is how a failed write shows (see QemuDriver.writeSnapshot).
 * @example migrationUri("save", "/srv/s/x.qemu-state", { major: 7, minor: 2 }) // "exec:umask 077; cat > '/srv/s/x.qemu-state' || rm -f '/srv/s/x.qemu-state'"
 */
export function migrationUri(direction: "save" | "load", path: string, v: { major: number; minor: number }): string {
  if (hasControl(path)) throw new VmmError("E_VMM_STATE", `the state file path holds control characters: ${JSON.stringify(path)}`);
  const fileUri = v.major > 8 || (v.major === 8 && v.minor >= 2);
  if (fileUri && !path.includes(",")) return `file:${path}`;
  const q = shellQuote(path);
  return direction === "save" ? `exec:umask 077; cat > ${q} || rm -f ${q}` : `exec:exec cat ${q}`;
}

/**
 * QEMU through QMP (one connection, opened on first use; QEMU serves one QMP client at a time).
 * @example const d = new QemuDriver("/run/vm1/qmp.sock", { callTimeoutMs: 5000 }); await d.pause();
 */
export class QemuDriver implements VmmDriver {
  readonly kind = "qemu" as const;
  readonly label: string;
  private qmp: QmpClient | null = null;
  private version: Version["qemu"] | null = null;
  private readonly callMs: number;

  constructor(
    readonly socket: string,
    opts: DriverOptions = {},
  ) {
    this.label = `qemu qmp:${socket}`;
    this.callMs = opts.callTimeoutMs ?? 5000;
  }

  private async conn(): Promise<QmpClient> {
    if (this.qmp && !this.qmp.closed) return this.qmp;
    this.qmp = await QmpClient.connect(this.socket, { timeoutMs: this.callMs });
    return this.qmp;
  }

  private async exec<T>(command: string, args?: Record<string, unknown>, timeoutMs = this.callMs): Promise<T> {
    return (await (await this.conn()).execute(command, args, { timeoutMs })) as T;
  }

  private async qemuVersion(): Promise<Version["qemu"]> {
    this.version ??= (await this.exec<Version>("query-version")).qemu;
    return this.version;
  }

  private status(): Promise<Status> {
    return this.exec<Status>("query-status");
  }

  async info(): Promise<VmmInfo> {
    const v = await this.qemuVersion();
    const s = await this.status();
    return { kind: "qemu", version: `${v.major}.${v.minor}.${v.micro}`, state: s.status, running: s.running, waiting: s.status === "inmigrate" };
  }

  files(dir: string, stem: string): SnapshotFile[] {
    return [{ role: "state", path: join(dir, `${stem}.qemu-state`) }];
  }

  async pause(): Promise<string> {
    await this.exec("stop");
    const s = await this.status();
    if (s.running) throw new VmmError("E_VMM_STATE", `QMP stop: the VM still runs (status ${s.status})`);
    return `QMP stop: status ${s.status}`;
  }

  async writeSnapshot(files: SnapshotFile[], opts: { timeoutMs: number }): Promise<string> {
    const state = files.find((f) => f.role === "state")!;
    const uri = migrationUri("save", state.path, await this.qemuVersion());
    const before = await this.exec<{ "max-bandwidth"?: number }>("query-migrate-parameters");
    await this.exec("migrate-set-parameters", { "max-bandwidth": FILE_BANDWIDTH });
    try {
      await this.exec("migrate", { uri });
      const m = await this.waitMigration("migrate", opts.timeoutMs, true);
      if (uri.startsWith("exec:") && !nonEmpty(state.path))
        throw new VmmError("E_VMM_FAILED", `QMP migrate: completed, but ${state.path} was not written (can QEMU's user write there? is the disk full?)`);
      const mib = ((m.ram?.transferred ?? 0) / 2 ** 20).toFixed(0);
      return `QMP migrate to ${uri.startsWith("file:") ? "file:" : "exec:cat >"} ${state.path}: completed (${mib} MiB of RAM)`;
    } finally {
      if (typeof before["max-bandwidth"] === "number")
        await this.exec("migrate-set-parameters", { "max-bandwidth": before["max-bandwidth"] }).catch(() => {});
    }
  }

  /** Poll query-migrate until completed; failed, cancelled or the deadline (then cancelled) throw. */
  private async waitMigration(what: string, timeoutMs: number, source: boolean): Promise<Migrate> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await this.exec<Migrate>("query-migrate");
      if (m.status === "completed") return m;
      if (m.status === "failed" || m.status === "cancelled")
        throw new VmmError("E_VMM_FAILED", `QMP ${what}: the migration ${m.status}${m["error-desc"] ? `: ${m["error-desc"]}` : ""}`);
      if (!source && m.status === undefined) {
        // The incoming side has no migration status until the stream starts; the run state tells the end too.
        const s = await this.status();
        if (s.status !== "inmigrate") return m;
      }
      if (Date.now() > deadline) {
        if (source) await this.exec("migrate_cancel").catch(() => {});
        throw new VmmError("E_VMM_TIMEOUT", `QMP ${what}: the migration was still ${m.status ?? "starting"} after ${timeoutMs} ms${source ? "; cancelled it" : ""}`);
      }
      await Bun.sleep(POLL_MS);
    }
  }

  async resume(): Promise<string> {
    await this.exec("cont");
    const s = await this.status();
    if (!s.running) throw new VmmError("E_VMM_STATE", `QMP cont: the VM does not run (status ${s.status})`);
    return `QMP cont: status ${s.status}`;
  }

  async restore(files: SnapshotFile[], opts: { timeoutMs: number }): Promise<string> {
    const state = files.find((f) => f.role === "state")!;
    const before = await this.status();
    if (before.status !== "inmigrate")
      throw new VmmError("E_VMM_STATE", `QEMU is not waiting for state (status ${before.status}): start a new QEMU with the same devices and -incoming defer`);
    const uri = migrationUri("load", state.path, await this.qemuVersion());
    await this.exec("migrate-incoming", { uri });
    try {
      await this.waitMigration("migrate-incoming", opts.timeoutMs, false);
    } catch (e) {
      if (e instanceof VmmError && (e.code === "E_VMM_CLOSED" || e.code === "E_VMM_UNREACHABLE"))
        throw new VmmError("E_VMM_FAILED", `QMP migrate-incoming: QEMU went away while loading ${state.path} (QEMU exits when an incoming migration fails: see its stderr or log)`);
      throw e;
    }
    let s = await this.status();
    // Loaded: `paused` with -S (or `postmigrate`/`prelaunch`), or already `running` without -S.
    for (const deadline = Date.now() + this.callMs; s.status === "inmigrate" && Date.now() < deadline; s = await this.status()) await Bun.sleep(POLL_MS);
    if (s.running) return `QMP migrate-incoming from ${state.path}: loaded; QEMU started it itself (no -S)`;
    if (s.status === "inmigrate") throw new VmmError("E_VMM_TIMEOUT", `QMP migrate-incoming: completed, but QEMU still says inmigrate`);
    await this.exec("cont");
    s = await this.status();
    if (!s.running) throw new VmmError("E_VMM_STATE", `QMP cont after migrate-incoming: the VM does not run (status ${s.status})`);
    return `QMP migrate-incoming from ${state.path}, cont: status ${s.status}`;
  }

  async recover(): Promise<string> {
    const done: string[] = [];
    const m = await this.exec<Migrate>("query-migrate");
    if (m.status && !["completed", "failed", "cancelled"].includes(m.status)) {
      await this.exec("migrate_cancel");
      done.push("cancelled the migration");
      const deadline = Date.now() + this.callMs;
      for (let n = await this.exec<Migrate>("query-migrate"); n.status === "active" || n.status === "cancelling" || n.status === "setup"; n = await this.exec<Migrate>("query-migrate")) {
        if (Date.now() > deadline) throw new VmmError("E_VMM_TIMEOUT", `QMP migrate_cancel: the migration was still ${n.status} after ${this.callMs} ms`);
        await Bun.sleep(POLL_MS);
      }
    }
    const s = await this.status();
    if (!s.running) {
      await this.exec("cont");
      done.push(`QMP cont (was ${s.status})`);
    } else done.push("the VM was running");
    return done.join("; ");
  }

  async close(): Promise<void> {
    this.qmp?.close();
    this.qmp = null;
  }
}
