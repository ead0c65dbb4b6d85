// The agent's testkit, for the core's tests and plugin authors alike: temp dirs and config files, an agent
// on a real unix socket, a raw frame client, waiting on conditions, and the manual clock and memory log.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAgent, type Agent, type AgentOptions } from "./agent.ts";
import { encodeFrame, FrameReader, decodeBody, type ReaderItem } from "./frame.ts";
import { memoryLogger } from "./log.ts";
import { listen } from "./server.ts";

/** A clock that moves only when told: read its doc for when the first scheduled run happens. */
export { ManualClock } from "./clock.ts";
/** A logger that keeps its lines (`log.lines`) for assertions. */
export { memoryLogger } from "./log.ts";

/** A fresh temp directory; `cleanup()` removes it. */
export function tempDir(prefix = "mvm-test-"): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Files by path relative to a dir: a JSON value (written pretty), or text as is. */
export type TestFiles = Record<string, unknown>;

/**
 * Write files under `dir` (a config dir: `integrations.d/web.json`, `agent.json`), making directories
 * as needed. Mode 0644: the agent refuses config files that group or others can write.
 * @example writeFiles(dir, { "probes.d/disk.json": { name: "disk", command: "df --output=pcent / | tail -1" } });
 */
export function writeFiles(dir: string, files: TestFiles): void {
  for (const [rel, value] of Object.entries(files)) {
    const path = join(dir, rel);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value, null, 2), { mode: 0o644 });
  }
}

export interface TestAgent {
  agent: Agent;
  socket: string;
  dir: string;
  log: ReturnType<typeof memoryLogger>;
  /** Stop the agent and remove the temp dir. */
  close(): Promise<void>;
}

/**
 * Start an agent with these plugins on a unix socket in a new temp dir (`createAgent` options: pass a
 * ManualClock and advance it yourself, see its doc). `close()` stops it and removes the dir.
 * @example
 * const t = await startTestAgent({ plugins: [myPlugin()] });
 * const c = await RawClient.connect(t.socket);
 * expect(await c.request({ type: "acme.greet", id: 1, params: { who: "ops" } })).toMatchObject({ ok: true });
 * await t.close();
 */
export async function startTestAgent(opts: Partial<AgentOptions> = {}): Promise<TestAgent> {
  const d = tempDir();
  const log = memoryLogger();
  const agent = createAgent({ plugins: [], log, ...opts });
  await agent.start();
  const socket = join(d.path, "agent.sock");
  await listen(agent, `unix:${socket}`);
  return {
    agent,
    socket,
    dir: d.path,
    log,
    async close() {
      await agent.stop({ drainMs: 1000 });
      d.cleanup();
    },
  };
}

/** A raw client: write bytes or frames, read decoded frames and lines, see the close. */
export class RawClient {
  private readonly reader = new FrameReader({ maxFrameBytes: 64 * 1024 * 1024 });
  /** After writing a CONNECT line, the next bytes up to a newline are its answer. */
  private expectLine = false;
  private lineBuf = "";
  private readonly items: ReaderItem[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(readonly sock: net.Socket) {
    sock.on("data", (chunk: Buffer) => {
      if (this.expectLine) {
        const nl = chunk.indexOf(0x0a);
        if (nl < 0) {
          this.lineBuf += chunk.toString();
          return;
        }
        this.items.push({ kind: "line", text: this.lineBuf + chunk.subarray(0, nl).toString() });
        this.expectLine = false;
        this.lineBuf = "";
        chunk = chunk.subarray(nl + 1);
      }
      this.items.push(...this.reader.push(chunk));
      this.wake();
    });
    sock.on("close", () => {
      this.closed = true;
      this.wake();
    });
    sock.on("error", () => {});
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static connect(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ path }, () => resolve(new RawClient(s)));
      s.once("error", reject);
    });
  }

  write(bytes: Uint8Array | string): void {
    if (Buffer.from(bytes.slice(0, 8) as Uint8Array).toString().startsWith("CONNECT ")) this.expectLine = true;
    this.sock.write(bytes);
  }

  send(value: unknown): void {
    this.sock.write(encodeFrame(value, 64 * 1024 * 1024));
  }

  /** Wait for the next item (frame decoded to a value, or a text line); null when closed first. */
  async next(timeoutMs = 10_000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const item = this.items.shift();
      if (item) {
        if (item.kind === "frame") {
          const d = decodeBody(item.body);
          return d.ok ? d.value : { undecodable: d.message };
        }
        if (item.kind === "line") return item.text;
        return item;
      }
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Send a request and wait for the next frame. */
  async request(value: unknown): Promise<any> {
    this.send(value);
    return this.next();
  }

  /** Resolves when the agent has closed the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("connection still open");
      await new Promise<void>((r) => {
        const t = setTimeout(r, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
      // drop frames we are not waiting for
    }
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Wait until `cond()` is true, checking after each event-loop turn; throws after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
