// The QMP client (QEMU's JSON monitor over a unix socket): greeting, capabilities, commands matched by id, deadlines.

import net from "node:net";
import { printable } from "../printable.ts";
import { connectError, VmmError } from "./errors.ts";

export interface QmpOptions {
  /** Deadline of connecting, the greeting and `qmp_capabilities` together (default 10 000 ms). */
  timeoutMs?: number;
  /** Longest line QEMU may send before the connection is dropped as garbage (default 8 MiB). */
  maxLineBytes?: number;
}

type Msg = Record<string, unknown>;

interface Pending {
  id: number;
  command: string;
  resolve(value: unknown): void;
  reject(e: VmmError): void;
}

/** Events kept for callers (`STOP`, `RESUME`, `MIGRATION`): the newest ones only. */
const MAX_EVENTS = 64;

/**
 * One connection to QEMU's QMP socket (`-qmp unix:PATH,server=on,wait=off`). Commands carry an id and
 * their answers are matched by it, so a late answer to a command that timed out is dropped; events
 * are kept (the last 64) and never taken for answers. Anything that is not a QMP JSON line ends the
 * connection with E_VMM_PROTOCOL. QEMU serves one QMP client at a time: a second one gets no greeting.
 * @example
 * const qmp = await QmpClient.connect("/run/vm1/qmp.sock", { timeoutMs: 5000 });
 * await qmp.execute("stop");
 * const v = await qmp.execute("query-version");
 * qmp.close();
 */
export class QmpClient {
  private buf: Buffer = Buffer.alloc(0);
  private readonly pending: Pending[] = [];
  private greeting: ((m: Msg | VmmError) => void) | null = null;
  private nextId = 1;
  private failure: VmmError | null = null;
  /** The newest asynchronous events, oldest first. */
  readonly events: Msg[] = [];

  private constructor(
    private readonly sock: net.Socket,
    readonly path: string,
    private readonly maxLineBytes: number,
  ) {
    sock.on("data", (d: Buffer) => this.onData(d));
    sock.on("error", (e) => this.fail(new VmmError("E_VMM_CLOSED", `QMP ${path}: connection error: ${e.message}`)));
    sock.on("close", () => this.fail(new VmmError("E_VMM_CLOSED", `QMP ${path}: QEMU closed the connection`)));
  }

  /** Connect, read the greeting and negotiate capabilities; every failure is a VmmError. */
  static async connect(path: string, opts: QmpOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ path });
      const t = setTimeout(() => {
        s.destroy();
        reject(new VmmError("E_VMM_TIMEOUT", `QMP ${path}: no connection within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once("connect", () => {
        clearTimeout(t);
        s.removeAllListeners("error");
        resolve(s);
      });
      s.once("error", (e: NodeJS.ErrnoException) => {
        clearTimeout(t);
        s.destroy();
        reject(connectError("QMP", path, e));
      });
    });
    const q = new QmpClient(sock, path, opts.maxLineBytes ?? 8 * 1024 * 1024);
    try {
      const hello = await q.waitGreeting(Math.max(1, deadline - Date.now()), timeoutMs);
      if (!("QMP" in hello)) throw new VmmError("E_VMM_PROTOCOL", `QMP ${path}: the first line is not a QMP greeting: ${printable(JSON.stringify(hello), 120)}`);
      await q.execute("qmp_capabilities", undefined, { timeoutMs: Math.max(1, deadline - Date.now()) });
      return q;
    } catch (e) {
      q.close();
      throw e;
    }
  }

  /** True once the connection failed or was closed. */
  get closed(): boolean {
    return this.failure !== null;
  }

  private waitGreeting(timeoutMs: number, total: number): Promise<Msg> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      const t = setTimeout(() => {
        this.greeting = null;
        reject(new VmmError("E_VMM_TIMEOUT", `QMP ${this.path}: no greeting within ${total} ms (QEMU serves one QMP client at a time: is another one connected?)`));
      }, timeoutMs);
      this.greeting = (m) => {
        clearTimeout(t);
        this.greeting = null;
        if (m instanceof VmmError) reject(m);
        else resolve(m);
      };
    });
  }

  private onData(d: Buffer): void {
    if (this.failure) return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let nl: number;
    while ((nl = this.buf.indexOf(0x0a)) >= 0) {
      const line = this.buf.subarray(0, nl).toString("utf8").trim();
      this.buf = this.buf.subarray(nl + 1);
      if (line) this.onLine(line);
      if (this.failure) return;
    }
    if (this.buf.length > this.maxLineBytes) this.fail(new VmmError("E_VMM_PROTOCOL", `QMP ${this.path}: a line of over ${this.maxLineBytes} bytes without a newline: not QMP`), true);
  }

  private onLine(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      return this.fail(new VmmError("E_VMM_PROTOCOL", `QMP ${this.path}: not a JSON line: ${printable(line, 120)}`), true);
    }
    if (typeof msg !== "object" || msg === null || Array.isArray(msg)) return this.fail(new VmmError("E_VMM_PROTOCOL", `QMP ${this.path}: not a JSON object: ${printable(line, 120)}`), true);
    const m = msg as Msg;
    if (this.greeting) return this.greeting(m);
    if ("event" in m) {
      this.events.push(m);
      if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
      return;
    }
    if (!("return" in m) && !("error" in m)) return this.fail(new VmmError("E_VMM_PROTOCOL", `QMP ${this.path}: neither an answer nor an event: ${printable(line, 120)}`), true);
    // Answers carry our id; one without (QEMU could not parse a command) belongs to the oldest pending command.
    const i = typeof m.id === "number" ? this.pending.findIndex((p) => p.id === m.id) : m.id === undefined ? 0 : -1;
    const p = i >= 0 ? this.pending.splice(i, 1)[0] : undefined;
    if (!p) return; // the late answer of a command that timed out
    if ("error" in m) {
      const e = (m.error ?? {}) as { class?: unknown; desc?: unknown };
      p.reject(new VmmError("E_VMM_REFUSED", `QMP ${p.command}: ${printable(String(e.class ?? "Error"), 60)}: ${printable(String(e.desc ?? JSON.stringify(e)))}`));
    } else p.resolve(m.return);
  }

  private fail(e: VmmError, destroy = false): void {
    if (this.failure) return;
    this.failure = e;
    this.greeting?.(e);
    for (const p of this.pending.splice(0)) p.reject(new VmmError(e.code, e.message.replace(`QMP ${this.path}`, `QMP ${p.command} (${this.path})`)));
    if (destroy) this.sock.destroy();
  }

  /**
   * Run a command; resolves with its `return`. Rejects with a VmmError: E_VMM_REFUSED with QEMU's error
   * class and description, E_VMM_TIMEOUT past the deadline (default 30 000 ms), E_VMM_CLOSED, E_VMM_PROTOCOL.
   */
  execute(command: string, args?: Record<string, unknown>, opts: { timeoutMs?: number } = {}): Promise<unknown> {
    if (this.failure) return Promise.reject(new VmmError(this.failure.code, `QMP ${command}: the connection is closed (${this.failure.message})`));
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const i = this.pending.findIndex((p) => p.id === id);
        if (i >= 0) this.pending.splice(i, 1);
        reject(new VmmError("E_VMM_TIMEOUT", `QMP ${command}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.push({
        id,
        command,
        resolve: (v) => {
          clearTimeout(t);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.sock.write(JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id }) + "\n");
    });
  }

  /** Close the connection; pending commands reject E_VMM_CLOSED. */
  close(): void {
    this.fail(new VmmError("E_VMM_CLOSED", `QMP ${this.path}: the client closed the connection`));
    this.sock.destroy();
  }
}
