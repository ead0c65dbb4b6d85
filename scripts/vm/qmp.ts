// A minimal QMP client (QEMU's JSON monitor) over a unix socket: capabilities, execute, events skipped.

import net from "node:net";

/**
 * Connect to QEMU's QMP socket and negotiate capabilities.
 * @example const qmp = await Qmp.connect("/tmp/vm/qmp.sock"); await qmp.execute("stop"); qmp.close();
 */
export class Qmp {
  private buf = "";
  private waiters: ((msg: Record<string, unknown> | null) => void)[] = [];
  private queue: Record<string, unknown>[] = [];
  private closed = false;
  readonly events: Record<string, unknown>[] = [];

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf("\n")) >= 0) {
        const line = this.buf.slice(0, i).trim();
        this.buf = this.buf.slice(i + 1);
        if (!line) continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if ("event" in msg) {
          this.events.push(msg);
          continue;
        }
        const w = this.waiters.shift();
        if (w) w(msg);
        else this.queue.push(msg);
      }
    });
    const end = () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(null);
    };
    sock.on("close", end);
    sock.on("error", end);
  }

  static async connect(path: string, timeoutMs = 10_000): Promise<Qmp> {
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ path });
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error(`QMP ${path}: no connection within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once("connect", () => {
        clearTimeout(t);
        resolve(s);
      });
      s.once("error", (e) => {
        clearTimeout(t);
        reject(new Error(`QMP ${path}: ${e.message}`));
      });
    });
    const q = new Qmp(sock);
    const greeting = await q.next(timeoutMs);
    if (!greeting || !("QMP" in greeting)) throw new Error(`QMP ${path}: no greeting`);
    await q.execute("qmp_capabilities");
    return q;
  }

  private next(timeoutMs: number): Promise<Record<string, unknown> | null> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`QMP: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (m: Record<string, unknown> | null) => {
        clearTimeout(t);
        resolve(m);
      };
      this.waiters.push(done);
    });
  }

  /** Run a command; resolves with its `return`, throws with QEMU's error description. */
  async execute(command: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<unknown> {
    if (this.closed) throw new Error(`QMP ${command}: the connection is closed`);
    this.sock.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + "\n");
    const msg = await this.next(timeoutMs);
    if (!msg) {
      if (command === "quit") return {};
      throw new Error(`QMP ${command}: QEMU closed the connection`);
    }
    if ("error" in msg) {
      const e = msg.error as { class?: string; desc?: string };
      throw new Error(`QMP ${command}: ${e.class ?? "Error"}: ${e.desc ?? JSON.stringify(e)}`);
    }
    return msg.return;
  }

  close(): void {
    this.sock.destroy();
  }
}
