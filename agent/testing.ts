// The agent's testkit, for the core's tests and plugin authors alike (the package's `mvm-guest-agent/testing`,
// through plugins/testing.ts): createTestAgent and the plugin contract, temp dirs and config files, an agent on
// a real unix socket, a raw frame client, waiting on conditions, and the manual clock and memory log.

import net from "node:net";
import { join } from "node:path";
import { createAgent, type Agent, type AgentOptions } from "./agent.ts";
import { encodeFrame, FrameReader, decodeBody, type ReaderItem } from "./frame.ts";
import { memoryLogger } from "./log.ts";
import { listen } from "./server.ts";
import { tempDir } from "./test-files.ts";

export { tempDir, writeFiles, type TestFiles } from "./test-files.ts";
export { createTestAgent, type TestAgentHandle, type TestAgentOptions } from "./test-agent.ts";
export { checkPluginContract, pluginContract, type ContractCheck, type ContractOptions } from "./contract.ts";
export type { StatusResult, DescribeResult } from "./wire.ts";

/** A clock that moves only when told: read its doc for when the first scheduled run happens. */
export { ManualClock } from "./clock.ts";
/** A logger that keeps its lines (`log.lines`) for assertions. */
export { memoryLogger } from "./log.ts";

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
