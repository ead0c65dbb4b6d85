// Listener tests over real unix sockets: bad input, handshake, limits, timeouts, socket files.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Type } from "@sinclair/typebox";
import { ManualClock } from "./clock.ts";
import { createAgent } from "./agent.ts";
import { encodeFrame } from "./frame.ts";
import { memoryLogger } from "./log.ts";
import { defineRequest, type AgentPlugin } from "./plugin.ts";
import { listen } from "./server.ts";
import { RawClient, startTestAgent, tempDir, waitFor, type TestAgent } from "./testing.ts";

let t: TestAgent | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

/** A plugin whose `t.wait` request resolves only when the test says so. */
function gatePlugin() {
  const gates = new Map<string, () => void>();
  let aborted = 0;
  const plugin: AgentPlugin = {
    name: "gate",
    requests: {
      "t.wait": defineRequest({
        params: Type.Object({ key: Type.String() }, { additionalProperties: false }),
        result: Type.Object({ key: Type.String() }, { additionalProperties: false }),
        handle: ({ key }, ctx) =>
          new Promise((resolve) => {
            gates.set(key, () => resolve({ key }));
            ctx.signal.addEventListener("abort", () => aborted++);
          }),
      }),
    },
  };
  return { plugin, open: (k: string) => gates.get(k)?.(), has: (k: string) => gates.has(k), aborted: () => aborted };
}

async function pingFresh(socket: string) {
  const c = await RawClient.connect(socket);
  const a = await c.request({ type: "ping", id: "fresh" });
  c.close();
  expect(a).toMatchObject({ id: "fresh", ok: true });
}

describe("bad input gets a clear answer, and the agent lives on", () => {
  test("oversize length prefix: E_FRAME_TOO_LARGE, then close", async () => {
    t = await startTestAgent();
    const c = await RawClient.connect(t.socket);
    c.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
    expect(await c.next()).toMatchObject({ ok: false, error: { code: "E_FRAME_TOO_LARGE" } });
    await c.waitClosed();
    await pingFresh(t.socket);
  });

  test("body not JSON: E_BAD_FRAME, the connection goes on", async () => {
    t = await startTestAgent();
    const c = await RawClient.connect(t.socket);
    const body = Buffer.from("{not json");
    const f = Buffer.alloc(4);
    f.writeUInt32BE(body.length);
    c.write(Buffer.concat([f, body]));
    expect(await c.next()).toMatchObject({ ok: false, error: { code: "E_BAD_FRAME" } });
    expect(await c.request({ type: "ping", id: 1 })).toMatchObject({ id: 1, ok: true });
    c.close();
    await pingFresh(t.socket);
  });

  test("zero-length body is E_BAD_FRAME, not a crash", async () => {
    t = await startTestAgent();
    const c = await RawClient.connect(t.socket);
    c.write(Uint8Array.of(0, 0, 0, 0));
    expect(await c.next()).toMatchObject({ ok: false, error: { code: "E_BAD_FRAME" } });
    c.close();
    await pingFresh(t.socket);
  });

  test("a frame split into 1-byte writes", async () => {
    t = await startTestAgent();
    const c = await RawClient.connect(t.socket);
    for (const b of encodeFrame({ type: "ping", id: 77 })) {
      c.write(Uint8Array.of(b));
      await new Promise((r) => setImmediate(r));
    }
    expect(await c.next()).toMatchObject({ id: 77, ok: true });
    c.close();
  });

  test("100 frames in one write get 100 answers, in order (no ids)", async () => {
    t = await startTestAgent();
    const c = await RawClient.connect(t.socket);
    c.write(Buffer.concat(Array.from({ length: 100 }, () => encodeFrame({ type: "ping" }))));
    for (let i = 0; i < 100; i++) expect(await c.next()).toMatchObject({ type: "ping", ok: true });
    c.close();
    await pingFresh(t.socket);
  });

  test("half a frame then a stall: closed after --frame-timeout-secs (injected clock)", async () => {
    const clock = new ManualClock();
    t = await startTestAgent({ clock, frameTimeoutSecs: 10 });
    const c = await RawClient.connect(t.socket);
    c.write(encodeFrame({ type: "ping" }).subarray(0, 6));
    await waitFor(() => t!.agent.connections() === 1);
    await waitFor(() => t!.log.lines.length > 0 && t!.agent.connections() === 1);
    await clock.advance(9_000);
    expect(c.closed).toBe(false);
    await clock.advance(3_000);
    await c.waitClosed();
    expect(t.log.lines.some((l) => l.includes("stalled"))).toBe(true);
    await pingFresh(t.socket);
  });

  test("idle connections are closed after --idle-timeout-secs, busy ones are not", async () => {
    const clock = new ManualClock();
    const gate = gatePlugin();
    t = await startTestAgent({ clock, idleTimeoutSecs: 30, plugins: [gate.plugin] });
    const idle = await RawClient.connect(t.socket);
    const busy = await RawClient.connect(t.socket);
    busy.send({ type: "t.wait", id: 1, params: { key: "k" } });
    await waitFor(() => gate.has("k"));
    await clock.advance(31_000);
    await idle.waitClosed();
    expect(busy.closed).toBe(false);
    gate.open("k");
    expect(await busy.next()).toMatchObject({ id: 1, ok: true });
    busy.close();
  });

  test("a client that disconnects mid-request: the handler sees the abort, the agent goes on", async () => {
    const gate = gatePlugin();
    t = await startTestAgent({ plugins: [gate.plugin] });
    const c = await RawClient.connect(t.socket);
    c.send({ type: "t.wait", id: 1, params: { key: "gone" } });
    await waitFor(() => gate.has("gone"));
    c.close();
    await waitFor(() => gate.aborted() === 1);
    gate.open("gone"); // the answer has nowhere to go; nothing breaks
    await pingFresh(t.socket);
  });

  test("500 simultaneous connections all answered", async () => {
    t = await startTestAgent({ maxConnections: 600 });
    const clients = await Promise.all(Array.from({ length: 500 }, () => RawClient.connect(t!.socket)));
    const answers = await Promise.all(clients.map((c, i) => c.request({ type: "ping", id: i })));
    answers.forEach((a, i) => expect(a).toMatchObject({ id: i, ok: true }));
    for (const c of clients) c.close();
    await waitFor(() => t!.agent.connections() === 0);
  });

  test("past --max-connections, with every slot busy, new connections are closed at once", async () => {
    const gate = gatePlugin();
    t = await startTestAgent({ maxConnections: 2, plugins: [gate.plugin] });
    const a = await RawClient.connect(t.socket);
    const b = await RawClient.connect(t.socket);
    a.send({ type: "t.wait", id: "a", params: { key: "a" } });
    b.send({ type: "t.wait", id: "b", params: { key: "b" } });
    await waitFor(() => gate.has("a") && gate.has("b"));
    const c = await RawClient.connect(t.socket);
    await c.waitClosed();
    gate.open("a");
    gate.open("b");
    expect(await a.next()).toMatchObject({ id: "a", ok: true });
    expect(await a.request({ type: "ping", id: 1 })).toMatchObject({ ok: true });
    a.close();
    b.close();
    await waitFor(() => t!.agent.connections() === 0);
    await pingFresh(t.socket);
  });
});

describe("ids and ordering", () => {
  test("with ids, a quick request is answered while a slow one waits (out of order)", async () => {
    const gate = gatePlugin();
    t = await startTestAgent({ plugins: [gate.plugin] });
    const c = await RawClient.connect(t.socket);
    c.send({ type: "t.wait", id: "slow", params: { key: "s" } });
    c.send({ type: "ping", id: "quick" });
    expect(await c.next()).toMatchObject({ id: "quick", ok: true });
    gate.open("s");
    expect(await c.next()).toMatchObject({ id: "slow", ok: true, result: { key: "s" } });
    c.close();
  });

  test("without ids, answers keep request order even when the first is slow", async () => {
    const gate = gatePlugin();
    t = await startTestAgent({ plugins: [gate.plugin] });
    const c = await RawClient.connect(t.socket);
    c.send({ type: "t.wait", params: { key: "first" } });
    c.send({ type: "ping" });
    await waitFor(() => gate.has("first"));
    gate.open("first");
    expect(await c.next()).toMatchObject({ type: "t.wait", result: { key: "first" } });
    expect(await c.next()).toMatchObject({ type: "ping" });
    c.close();
  });
});

describe("CONNECT handshake on unix sockets", () => {
  test("CONNECT <our port> gets OK <port>, then frames", async () => {
    t = await startTestAgent({ vsockPort: 52 });
    const c = await RawClient.connect(t.socket);
    c.write(Buffer.concat([Buffer.from("CONNECT 52\n"), encodeFrame({ type: "ping", id: 1 })]));
    expect(await c.next()).toBe("OK 52");
    expect(await c.next()).toMatchObject({ id: 1, ok: true });
    c.close();
  });

  test("a wrong port closes the connection", async () => {
    t = await startTestAgent({ vsockPort: 52 });
    const c = await RawClient.connect(t.socket);
    c.write("CONNECT 53\n");
    await c.waitClosed();
    expect(t.log.lines.some((l) => l.includes("refused handshake"))).toBe(true);
  });

  test("a malformed line closes the connection", async () => {
    t = await startTestAgent();
    const c = await RawClient.connect(t.socket);
    c.write("CONNECT fifty-two\n");
    await c.waitClosed();
  });

  test("no line: frames at once", async () => {
    t = await startTestAgent();
    const c = await RawClient.connect(t.socket);
    expect(await c.request({ type: "ping", id: 3 })).toMatchObject({ id: 3, ok: true });
    c.close();
  });
});

describe("unix socket files", () => {
  test("created with mode 0600 by default, removed at stop", async () => {
    t = await startTestAgent();
    expect(statSync(t.socket).mode & 0o777).toBe(0o600);
    const path = t.socket;
    await t.agent.stop();
    expect(existsSync(path)).toBe(false);
  });

  test("--socket-mode is applied; a stale socket file left by a dead process is replaced", async () => {
    const d = tempDir();
    const path = join(d.path, "a.sock");
    // A socket file nobody listens on, as a crashed agent leaves it.
    const p = Bun.spawnSync(["python3", "-c", `import socket;s=socket.socket(socket.AF_UNIX);s.bind(${JSON.stringify(path)})`]);
    expect(p.exitCode).toBe(0);
    expect(statSync(path).isSocket()).toBe(true);
    const a = createAgent({ plugins: [], log: memoryLogger() });
    await a.start();
    await listen(a, `unix:${path}`, { socketMode: 0o660 });
    expect(statSync(path).mode & 0o777).toBe(0o660);
    const c = await RawClient.connect(path);
    expect(await c.request({ type: "ping", id: 1 })).toMatchObject({ ok: true });
    c.close();
    await a.stop();
    d.cleanup();
  });

  test("the socket file is never more open than --socket-mode, not even between bind and chmod (umask 0)", async () => {
    const d = tempDir();
    const a = createAgent({ plugins: [], log: memoryLogger() });
    await a.start();
    // What the file's mode is the instant Bun.listen returns (before the chmod), under the loosest umask.
    const atBind: Record<string, number> = {};
    const realListen = Bun.listen;
    const old = process.umask(0);
    (Bun as { listen: unknown }).listen = (o: { unix: string }) => {
      const server = (realListen as (o: unknown) => unknown)(o);
      atBind[o.unix] = lstatSync(o.unix).mode & 0o777;
      return server;
    };
    try {
      await listen(a, `unix:${join(d.path, "default.sock")}`);
      await listen(a, `unix:${join(d.path, "group.sock")}`, { socketMode: 0o660 });
      expect(process.umask()).toBe(0); // restored after each bind
    } finally {
      (Bun as { listen: unknown }).listen = realListen;
      process.umask(old);
    }
    expect(atBind).toEqual({ [join(d.path, "default.sock")]: 0o600, [join(d.path, "group.sock")]: 0o660 });
    await a.stop();
    d.cleanup();
  });

  test("refuses to replace a regular file or a live socket", async () => {
    const d = tempDir();
    const file = join(d.path, "not-a-socket");
    writeFileSync(file, "precious");
    const a = createAgent({ plugins: [], log: memoryLogger() });
    await expect(listen(a, `unix:${file}`)).rejects.toThrow("not a socket");
    t = await startTestAgent();
    await expect(listen(a, `unix:${t.socket}`)).rejects.toThrow("another process is listening");
    await a.stop();
    d.cleanup();
  });
});
