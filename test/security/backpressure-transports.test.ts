// Backpressure on every transport (issue 15): unix (Bun.listen), the node:net path vsock connections
// take (AF_VSOCK cannot be connected here; the VM suite runs the real one), and serial (a pty). A client
// that does not read stops being read once MAX_UNSENT_BYTES are queued, queues no more than one answer
// past that, and gets every answer, in order, once it reads. Native requests and a dialect alike.

import { afterEach, describe, expect, test } from "bun:test";
import net from "node:net";
import { closeSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Type } from "@sinclair/typebox";
import { createAgent, type Agent } from "../../agent/agent.ts";
import { readFdInThread } from "../../agent/fd-reader.ts";
import { decodeBody, encodeFrame, FrameReader } from "../../agent/frame.ts";
import { memoryLogger } from "../../agent/log.ts";
import { defineRequest, type AgentPlugin } from "../../agent/plugin.ts";
import { listen, serveNetSocket } from "../../agent/server.ts";
import { MAX_UNSENT_BYTES } from "../../agent/session.ts";
import { ManualClock } from "../../agent/clock.ts";
import { startTestAgent, tempDir, waitFor } from "../../agent/testing.ts";
import { openPty } from "../../agent/testing-pty.ts";

const ANSWER = 100 * 1024;
const N = 200; // 20 MB of answers if they were all queued

/** `t.big` answers 100 KB; the `Big` dialect (standing in for mvm-compat, which writes through the same session) too. */
const bigPlugin: AgentPlugin = {
  name: "t",
  requests: {
    "t.big": defineRequest({
      params: Type.Object({ n: Type.Integer() }, { additionalProperties: false }),
      result: Type.Object({ n: Type.Integer(), blob: Type.String() }, { additionalProperties: false }),
      handle: ({ n }) => ({ n, blob: "x".repeat(ANSWER) }),
    }),
  },
  dialects: [
    {
      name: "big",
      matches: (b) => typeof b === "object" && b !== null && "Big" in b,
      handle: async (b) => ({ body: { Blob: { n: (b as { Big: number }).Big, blob: "y".repeat(ANSWER) } } }),
    },
  ],
};

/** One end of a transport that does not read until told. */
interface HostEnd {
  send(bytes: Uint8Array): void;
  /** Read every frame from now on. */
  read(on: (frame: any) => void): void;
  close(): Promise<void>;
}

const d = tempDir("mvm-bp-transports-");
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function startAgent(): Promise<Agent> {
  const agent = createAgent({ plugins: [bigPlugin], log: memoryLogger() });
  await agent.start();
  cleanup.push(() => agent.stop({ drainMs: 100 }));
  return agent;
}

function frameValue(body: Uint8Array): unknown {
  const v = decodeBody(body);
  return v.ok ? v.value : { undecodable: v.message };
}

function netEnd(sock: net.Socket): HostEnd {
  sock.pause();
  const reader = new FrameReader({ maxFrameBytes: 1 << 24 });
  return {
    send: (b) => void sock.write(b),
    read(on) {
      sock.on("data", (chunk: Buffer) => {
        for (const item of reader.push(chunk)) if (item.kind === "frame") on(frameValue(item.body));
      });
      sock.resume();
    },
    close: async () => void sock.destroy(),
  };
}

const connectNet = (path: string) =>
  new Promise<net.Socket>((r, j) => {
    const s = net.connect({ path }, () => r(s));
    s.once("error", j);
  });

const transports: Record<string, (agent: Agent) => Promise<HostEnd>> = {
  unix: async (agent) => {
    const path = join(d.path, `u${Math.random().toString(36).slice(2)}.sock`);
    await listen(agent, `unix:${path}`);
    return netEnd(await connectNet(path));
  },
  "vsock (node:net)": async (agent) => {
    const path = join(d.path, `v${Math.random().toString(36).slice(2)}.sock`);
    const server = net.createServer((sock) => serveNetSocket(agent, sock, "vsock", "vsock:test"));
    await new Promise<void>((r) => server.listen(path, r));
    cleanup.push(() => new Promise((r) => server.close(() => r())));
    return netEnd(await connectNet(path));
  },
  serial: async (agent) => {
    const pty = openPty();
    await listen(agent, { kind: "serial", path: pty.slavePath });
    let stop: (() => Promise<void>) | null = null;
    const reader = new FrameReader({ maxFrameBytes: 1 << 24 });
    cleanup.push(async () => {
      // The agent's reader thread parked in read() sees its stop only when bytes come: nudge it.
      let done = false;
      const stopped = agent.stop({ drainMs: 100 }).then(() => void (done = true));
      await waitFor(() => done || (writeSync(pty.master, "\n"), false), 5000, "the agent's serial reader to stop");
      await stopped;
      closeSync(pty.keep);
      await stop?.(); // the master reads EIO once every slave fd is closed
    });
    return {
      send: (b) => void writeSync(pty.master, b),
      read(on) {
        stop = readFdInThread(pty.master, {
          data: (b) => {
            for (const item of reader.push(b)) if (item.kind === "frame") on(frameValue(item.body));
          },
          eof() {},
          error() {},
        }).stop;
      },
      close: async () => {},
    };
  },
};

for (const [name, open] of Object.entries(transports)) {
  describe(name, () => {
    for (const [what, request, check] of [
      ["native requests", (i: number) => ({ type: "t.big", params: { n: i } }), (f: any, i: number) => f.ok && f.result.n === i && f.result.blob.length === ANSWER],
      ["a dialect", (i: number) => ({ Big: i }), (f: any, i: number) => f.Blob?.n === i && f.Blob.blob.length === ANSWER],
    ] as const) {
      test(`${what}: unread answers stop the reading at the bound; all ${N} arrive in order once read`, async () => {
        const agent = await startAgent();
        const host = await open(agent);
        host.send(Buffer.concat(Array.from({ length: N }, (_, i) => encodeFrame(request(i)))));
        await waitFor(() => agent.backpressure().backedUp === 1, 20_000, "the connection backed up");
        // Held work waits: one more answer at most, never all 20 MB. (A round trip on the event loop first.)
        await agent.call("ping");
        expect(agent.backpressure().unsentBytes).toBeLessThanOrEqual(MAX_UNSENT_BYTES + 2 * ANSWER + 1024);
        let next = 0;
        let bad = 0;
        host.read((f) => {
          if (check(f, next)) next++;
          else bad++;
        });
        await waitFor(() => next + bad === N, 30_000, `${N} answers`);
        expect({ next, bad }).toEqual({ next: N, bad: 0 });
        expect(agent.backpressure()).toEqual({ backedUp: 0, unsentBytes: 0, queuedBytes: 0 });
        await host.close();
      }, 60_000);
    }
  });
}

test("a client that reads nothing for --idle-timeout-secs is cut, and what it left unread is freed (injected clock)", async () => {
  const clock = new ManualClock();
  const t = await startTestAgent({ clock, idleTimeoutSecs: 30, plugins: [bigPlugin] });
  cleanup.push(() => t.close());
  const sock = await connectNet(t.socket);
  sock.pause();
  let closed = false;
  sock.on("close", () => void (closed = true));
  sock.on("error", () => {});
  sock.write(Buffer.concat(Array.from({ length: N }, (_, i) => encodeFrame({ type: "t.big", params: { n: i } }))));
  await waitFor(() => t.agent.backpressure().backedUp === 1, 20_000, "the connection backed up");
  await clock.advance(29_000);
  expect(t.agent.connections()).toBe(1);
  await clock.advance(3_000);
  await waitFor(() => t.agent.connections() === 0, 10_000, "the agent to cut the connection");
  sock.on("data", () => {});
  sock.resume(); // a paused socket sees its peer's close only once it reads
  await waitFor(() => closed, 10_000, "the client to see the connection closed");
  expect(t.agent.backpressure()).toEqual({ backedUp: 0, unsentBytes: 0, queuedBytes: 0 });
  expect(t.log.lines.some((l) => /bytes of answers unread for over 30s; closing/.test(l))).toBe(true);
});

test("a half frame held while the agent does not read is not the client's stall (injected clock)", async () => {
  const clock = new ManualClock();
  const agent = createAgent({ plugins: [bigPlugin], log: memoryLogger(), clock, frameTimeoutSecs: 10, idleTimeoutSecs: 300 });
  await agent.start();
  cleanup.push(() => agent.stop({ drainMs: 100 }));
  // A transport that queues everything until the test "reads" it.
  let queued = 0;
  let paused = false;
  const written: Uint8Array[] = [];
  const session = agent.openSession(
    {
      label: "unix:fake#1",
      write: (b) => void (written.push(b), (queued += b.length)),
      end() {},
      unsent: () => queued,
      pauseReading: () => void (paused = true),
      resumeReading: () => void (paused = false),
    },
    "unix",
  )!;
  const frames = Buffer.concat(Array.from({ length: 60 }, (_, i) => encodeFrame({ type: "t.big", params: { n: i } })));
  const half = encodeFrame({ type: "t.big", params: { n: 60 } }).subarray(0, 10);
  session.onData(Buffer.concat([frames, half]));
  await waitFor(() => agent.backpressure().backedUp === 1, 20_000, "backed up");
  expect(paused).toBe(true);
  await clock.advance(20_000); // twice the frame timeout: the half frame waits on us, not on the client
  expect(agent.connections()).toBe(1);
  queued = 0; // the client reads everything
  session.onWritable();
  await waitFor(() => !paused && written.length === 60, 20_000, "every answer written and reading resumed");
  session.onData(encodeFrame({ type: "t.big", params: { n: 60 } }).subarray(10)); // the rest of the half frame
  await waitFor(() => written.length === 61, 20_000, "the 61st answer");
  session.close();
});
