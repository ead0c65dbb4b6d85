// Attack: a client that sends requests and never reads the answers (issue 15: RSS went from 62 MB to
// 1.7 GB; eight streamed execs with unread output added 600 MB). Against agent processes, whose memory
// is read from /proc: 50 000 requests unread raise RSS by less than 64 MB, and every answer arrives
// once the client reads; streamed execs with unread output stay bounded and lose no byte.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeBody, encodeFrame, FrameReader } from "../../agent/frame.ts";
import { MAX_QUEUED_BYTES } from "../../agent/session.ts";
import { tempDir, waitFor, type RawClient } from "../../agent/testing.ts";
import { spawnAgent, type SpawnedAgent } from "../support/index.ts";

const MB = 1024 * 1024;
const root = join(import.meta.dir, "../..");

const kb = (pid: number, field: "VmRSS" | "VmHWM") => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;

interface Proc {
  proc: SpawnedAgent;
  sock: string;
  ctl: RawClient;
}

async function spawn(entry?: string): Promise<Proc> {
  const proc = await spawnAgent({ entry, hostSafe: entry === undefined, args: ["--log-level", "warn"] });
  return { proc, sock: proc.socket, ctl: await proc.connect() };
}

/** A raw socket that does not read until told (the attacker), and reads every frame afterwards. */
class LazyClient {
  private readonly reader = new FrameReader({ maxFrameBytes: 64 * MB });
  constructor(readonly sock: net.Socket) {
    sock.pause();
  }
  static async connect(path: string): Promise<LazyClient> {
    const s = net.connect({ path });
    await new Promise((r, j) => s.once("connect", r).once("error", j));
    return new LazyClient(s);
  }
  /** Resume reading; hand every decoded frame to `on` until it returns true. */
  readAll(on: (frame: any) => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sock.on("data", (chunk: Buffer) => {
        for (const item of this.reader.push(chunk)) {
          if (item.kind !== "frame") continue;
          const v = decodeBody(item.body);
          if (!v.ok) return reject(new Error(v.message));
          if (on(v.value)) return resolve();
        }
      });
      this.sock.once("close", () => reject(new Error("closed before every frame came")));
      this.sock.resume();
    });
  }
}

const status = async (p: Proc) => (await p.ctl.request({ type: "status" })).result as { connections_backed_up: number; unsent_bytes: number; queued_bytes?: number };

describe("unread answers (a full agent process, unix socket)", () => {
  let a: Proc;
  beforeAll(async () => {
    a = await spawn();
    for (let i = 0; i < 20; i++) await status(a); // warm-up
  }, 60_000);
  afterAll(async () => {
    a.ctl.close();
    await a.proc.stop();
  });

  /** 50 000 status requests with long ids on one connection, read at once or only after the agent stopped reading. */
  async function round(unread: boolean): Promise<{ unsent: number; rss: number }> {
    const c = await LazyClient.connect(a.sock);
    const N = 50_000;
    const pad = "x".repeat(100); // long ids and status answers of ~2 KB: ~100 MB if all were queued
    for (let i = 0; i < N; i++) c.sock.write(encodeFrame({ type: "status", id: `${pad}${i}` }));
    let held = { unsent: 0, rss: 0 };
    if (unread) {
      await waitFor(async () => (await status(a)).connections_backed_up === 1, 60_000, "the agent to stop reading the connection");
      held = { unsent: (await status(a)).unsent_bytes, rss: kb(a.proc.pid, "VmRSS") };
    }
    const seen = new Set<number>();
    await c.readAll((f) => {
      expect(f).toMatchObject({ type: "status", ok: true });
      seen.add(Number(String(f.id).slice(pad.length)));
      return seen.size === N;
    });
    expect(seen.size).toBe(N);
    c.sock.destroy();
    return held;
  }

  test("50 000 requests never read raise the agent's RSS by less than 64 MB; every answer arrives once read", async () => {
    const before = kb(a.proc.pid, "VmRSS");
    const held = await round(true);
    expect(held.unsent).toBeLessThan(4 * MB + 2 * MB);
    expect(held.rss - before).toBeLessThan(64 * MB); // what the attack makes the agent hold (about 25 MB here)
    expect((await status(a)).connections_backed_up).toBe(0);
    // The peak: against the same 50 000 answered to a client that reads at once (serving them at full
    // speed grows the heap by itself, GC slack), the unread round adds less than 64 MB.
    await round(false);
    const floor = kb(a.proc.pid, "VmHWM");
    await round(true);
    expect(kb(a.proc.pid, "VmHWM") - floor).toBeLessThan(64 * MB);
  }, 300_000);
});

describe("requests queued behind a slow one (a full agent process, unix socket)", () => {
  let a: Proc;
  const goDir = tempDir("mvm-slow-");
  const go = join(goDir.path, "go");
  beforeAll(async () => {
    const proc = await spawnAgent({
      args: ["--log-level", "warn"],
      // The check waits for a file the test creates: an in-order request as slow as the test wants.
      files: { "integrations.d/slow.json": { name: "slow", health_cmd: 'while [ ! -e "$GO" ]; do sleep 0.05; done', health_interval_secs: 86_400, health_timeout_secs: 600 } },
      env: { GO: go },
    });
    a = { proc, sock: proc.socket, ctl: await proc.connect() };
    for (let i = 0; i < 20; i++) await status(a); // warm-up
  }, 60_000);
  afterAll(async () => {
    a.ctl.close();
    await a.proc.stop();
    goDir.cleanup();
  });

  /** 1000 frames of ~1 MiB on one connection that reads, behind a slow in-order request when `slow`; every answer checked. */
  async function round(slow: boolean): Promise<number> {
    rmSync(go, { force: true });
    const c = await LazyClient.connect(a.sock);
    const N = 1000;
    const pad = "x".repeat(MB - 100); // a frame just under the 1 MiB cap
    const answers: any[] = [];
    const all = c.readAll((f) => answers.push(f) === N + 1);
    if (!slow) writeFileSync(go, "");
    c.sock.write(encodeFrame({ type: "health-check", params: { name: "slow" } }));
    let written = 0;
    const writer = (async () => {
      for (; written < N; written++) {
        if (!c.sock.write(encodeFrame({ type: "status", params: { pad } }, 2 * MB))) await new Promise((r) => c.sock.once("drain", r));
      }
    })();
    let held = 0;
    if (slow) {
      // Until the slow request ends, the agent either holds all it read (all 1000 frames written) or
      // stops reading once its queue is full (the writer waits on the socket).
      await waitFor(async () => written === N || ((await status(a)).queued_bytes ?? 0) >= MAX_QUEUED_BYTES, 120_000, "the writer to finish or the agent to stop reading");
      held = kb(a.proc.pid, "VmRSS");
      writeFileSync(go, "");
    }
    await writer;
    await all;
    expect(answers[0]).toMatchObject({ type: "health-check", ok: true });
    expect(answers.slice(1).every((f) => f.type === "status" && f.ok === false && f.error.code === "E_INVALID_PARAMS")).toBe(true);
    c.sock.destroy();
    return held;
  }

  test("one slow in-order request, then 1000 frames of 1 MiB: the agent's RSS grows by less than 64 MB, every answer arrives", async () => {
    // The same frames answered at once first: the heap grows to what decoding 1 GB of requests costs (GC slack).
    await round(false);
    const before = kb(a.proc.pid, "VmHWM");
    // Holding what it read behind the slow request would add 1000 x 1 MiB; a queue of 4 MiB adds nothing.
    const held = await round(true);
    expect(held - before).toBeLessThan(64 * MB);
    expect(kb(a.proc.pid, "VmHWM") - before).toBeLessThan(64 * MB);
    expect((await status(a)).queued_bytes).toBe(0);
  }, 300_000);
});

describe("unread streamed exec output (an exec agent process)", () => {
  let a: Proc;
  beforeAll(async () => {
    a = await spawn(join(root, "plugins/exec/fixtures/exec-agent.ts"));
  }, 60_000);
  afterAll(async () => {
    a.ctl.close();
    await a.proc.stop();
  });

  /** 8 streamed `seq` execs on one connection, read at once or only after the agent stopped reading; every stream checked. */
  async function round(unread: boolean, onBackedUp: () => void = () => {}): Promise<void> {
    const LINES = 4_000_000; // `seq 1 4000000` is 30 888 896 bytes
    const expected = new Bun.CryptoHasher("sha256").update(Bun.spawnSync(["seq", "1", String(LINES)]).stdout).digest("hex");
    const c = await LazyClient.connect(a.sock);
    const EXECS = 8;
    for (let i = 0; i < EXECS; i++)
      c.sock.write(encodeFrame({ type: "exec", id: i, params: { command: `seq 1 ${LINES}`, stream: true, max_output_bytes: 32 * MB, timeout_secs: 600 } }));
    if (unread) {
      await waitFor(async () => (await status(a)).connections_backed_up === 1, 60_000, "the agent to stop reading the connection");
      onBackedUp();
    }
    const hash = Array.from({ length: EXECS }, () => new Bun.CryptoHasher("sha256"));
    const answers: any[] = [];
    await c.readAll((f) => {
      if (f.event === "stdout") hash[f.id].update(f.data);
      else if (f.ok !== undefined) answers.push(f);
      return answers.length === EXECS;
    });
    for (const ans of answers) expect(ans.result).toMatchObject({ exit_code: 0, timed_out: false, stdout_bytes: 30_888_896, stdout_truncated: false });
    for (const h of hash) expect(h.digest("hex")).toBe(expected);
    c.sock.destroy();
  }

  test("8 streamed execs of 31 MB each, unread: the commands block, memory stays that of a reading client, and every byte arrives in order", async () => {
    // The same work read at once first: the heap grows to what streaming costs (JIT, GC slack).
    await round(false);
    const before = kb(a.proc.pid, "VmHWM");
    // Buffering the unread output would add 8 x 31 MB; blocking the commands adds nothing.
    await round(true, () => expect(kb(a.proc.pid, "VmRSS") - before).toBeLessThan(64 * MB));
    expect(kb(a.proc.pid, "VmHWM") - before).toBeLessThan(64 * MB);
  }, 300_000);
});
