// AgentClient against real agents: plain unix, CONNECT handshake, a fake Firecracker UDS, a serial stream.
// Over 300 lines: every address kind, handshake and failure mode against real sockets and scripted servers.

import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { Type } from "@sinclair/typebox";
import { createAgent } from "../../agent/agent.ts";
import { AgentError } from "../../agent/errors.ts";
import { memoryLogger } from "../../agent/log.ts";
import { listen } from "../../agent/server.ts";
import { encodeFrame } from "../../agent/frame.ts";
import { defineRequest, type AgentPlugin } from "../../agent/plugin.ts";
import { startTestAgent, tempDir, waitFor, type TestAgent } from "../../agent/testing.ts";
import { AgentClient, ClientError, callOnce, parseAgentAddress } from "./agent-client.ts";
import { openAgentStream } from "./connect.ts";

const Any = Type.Object({}, { additionalProperties: true });

/** A plugin with a slow request, a streaming one, and one that fails with an agent code. */
function testPlugin(gate: { release?: () => void }): AgentPlugin {
  return {
    name: "test",
    requests: {
      "t.echo": defineRequest({ params: Type.Object({ n: Type.Integer() }, { additionalProperties: false }), result: Type.Object({ n: Type.Integer() }), handle: ({ n }) => ({ n }) }),
      "t.wait": defineRequest({
        params: Any,
        result: Any,
        handle: (_p, ctx) =>
          new Promise((resolve) => {
            gate.release = () => resolve({ released: true });
            ctx.signal.addEventListener("abort", () => resolve({}));
          }),
      }),
      "t.stream": defineRequest({
        params: Any,
        result: Type.Object({ done: Type.Boolean() }),
        handle: async (_p, ctx) => {
          for (let i = 0; i < 3; i++) ctx.emit("tick", i);
          return { done: true };
        },
      }),
      "t.busy": defineRequest({ params: Any, result: Any, handle: () => { throw new AgentError("E_BUSY", "busy doing something", { what: "x" }); } }),
    },
  };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function agentWith(gate: { release?: () => void } = {}): Promise<TestAgent> {
  const a = await startTestAgent({ plugins: [testPlugin(gate)] });
  cleanups.push(() => a.close());
  return a;
}

function client(addr: string, opts: ConstructorParameters<typeof AgentClient>[1] = {}): AgentClient {
  const c = new AgentClient(addr, opts);
  cleanups.push(() => c.close());
  return c;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ClientError) return e.code;
    throw e;
  }
  throw new Error("the call did not fail");
}

/** A fake Firecracker vsock UDS: reads `CONNECT 52\n`, answers `OK 1073741824\n`, then proxies to the agent. */
async function fakeFirecracker(agentSocket: string, dir: string, opts: { refuse?: boolean; answer?: string } = {}) {
  const path = join(dir, "v.sock");
  const lines: string[] = [];
  const server = net.createServer((c) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const nl = buf.indexOf(0x0a);
      if (nl < 0) return;
      c.off("data", onData);
      c.pause();
      lines.push(buf.subarray(0, nl).toString());
      if (opts.refuse) return void c.destroy();
      const up = net.connect({ path: agentSocket }, () => {
        const after = buf.subarray(nl + 1);
        c.write(opts.answer ?? "OK 1073741824\n");
        up.pipe(c);
        if (after.length) up.write(after);
        c.pipe(up);
        c.resume();
      });
      up.on("error", () => c.destroy());
      c.on("error", () => up.destroy());
      c.on("close", () => up.destroy());
    };
    c.on("data", onData);
  });
  await new Promise<void>((r) => server.listen(path, r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { path, lines };
}

describe("addresses", () => {
  test("parses every form and rejects bad ones with E_BAD_ADDRESS", () => {
    expect(parseAgentAddress("firecracker:/var/lib/mvm/a:b/v.sock:52")).toEqual({ kind: "firecracker", path: "/var/lib/mvm/a:b/v.sock", port: 52 });
    expect(parseAgentAddress("unix:/run/a.sock")).toEqual({ kind: "unix", path: "/run/a.sock" });
    expect(parseAgentAddress("unix+connect:/run/a.sock:1024")).toEqual({ kind: "unix", path: "/run/a.sock", port: 1024 });
    expect(parseAgentAddress("vsock:3:52")).toEqual({ kind: "vsock", cid: 3, port: 52 });
    expect(parseAgentAddress("qemu-serial:/tmp/q.sock")).toEqual({ kind: "qemu-serial", path: "/tmp/q.sock" });
    for (const bad of ["", "/run/a.sock", "unix:", "firecracker:/v.sock", "firecracker:/v.sock:0", "vsock:3", "vsock:x:52", "tcp:1.2.3.4:5"]) {
      expect(() => parseAgentAddress(bad)).toThrow(ClientError);
    }
    expect(() => new AgentClient("http://x")).toThrow(/unknown scheme "http"/);
  });
});

describe("AgentClient over a unix socket", () => {
  test("typed built-in calls, one connection reused", async () => {
    const a = await agentWith();
    const c = client(`unix:${a.socket}`);
    const hello = await c.call("hello");
    expect(hello.protocol).toBe(1);
    expect(hello.requests).toContain("t.echo");
    expect(await c.call("ping")).toEqual({});
    expect((await c.call("status")).connections).toBe(1);
    expect(a.agent.connections()).toBe(1);
  });

  test("concurrent calls are multiplexed by id and each gets its own answer", async () => {
    const gate: { release?: () => void } = {};
    const a = await agentWith(gate);
    const c = client(`unix:${a.socket}`);
    const slow = c.call("t.wait", {});
    await waitFor(() => gate.release !== undefined);
    const fast = await Promise.all(Array.from({ length: 20 }, (_, n) => c.call("t.echo", { n })));
    expect(fast.map((r) => (r as { n: number }).n)).toEqual(Array.from({ length: 20 }, (_, n) => n));
    expect(c.inFlight).toBe(1);
    gate.release!();
    expect(await slow).toEqual({ released: true });
    expect(a.agent.connections()).toBe(1);
  });

  test("with the CONNECT handshake (unix+connect)", async () => {
    const a = await agentWith();
    expect(await client(`unix+connect:${a.socket}:52`).call("ping")).toEqual({});
    const err = await client(`unix+connect:${a.socket}:53`)
      .call("ping")
      .catch((e) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect(err.code).toBe("E_HANDSHAKE");
    expect(err.message).toContain("CONNECT 53");
  });

  test("agent error codes pass through with message and data", async () => {
    const a = await agentWith();
    const c = client(`unix:${a.socket}`);
    const err = (await c.call("t.busy", {}).catch((e) => e)) as ClientError;
    expect(err.code).toBe("E_BUSY");
    expect(err.message).toBe("busy doing something");
    expect(err.data).toEqual({ what: "x" });
    expect(err.fromAgent).toBe(true);
    expect(await codeOf(c.call("t.echo", { n: "x" }))).toBe("E_INVALID_PARAMS");
    expect(await codeOf(c.call("nope.nothing"))).toBe("E_UNKNOWN_REQUEST");
    // The connection survives agent errors.
    expect(await c.call("ping")).toEqual({});
    expect(a.agent.connections()).toBe(1);
  });

  test("streaming events arrive in order before the result", async () => {
    const a = await agentWith();
    const seen: unknown[] = [];
    const r = await client(`unix:${a.socket}`).call("t.stream", {}, { onEvent: (e, d) => seen.push([e, d]) });
    expect(seen).toEqual([["tick", 0], ["tick", 1], ["tick", 2]]);
    expect(r).toEqual({ done: true });
  });

  test("a call past its timeout rejects E_CLIENT_TIMEOUT and the connection stays usable", async () => {
    const a = await agentWith();
    const c = client(`unix:${a.socket}`);
    const err = (await c.call("t.wait", {}, { timeoutMs: 30 }).catch((e) => e)) as ClientError;
    expect(err.code).toBe("E_CLIENT_TIMEOUT");
    expect(err.message).toContain('"t.wait" within 30 ms');
    expect(c.inFlight).toBe(0);
    expect(await c.call("t.echo", { n: 5 })).toEqual({ n: 5 });
  });

  test("abort through a signal rejects E_ABORTED", async () => {
    const a = await agentWith();
    const ctl = new AbortController();
    const p = client(`unix:${a.socket}`).call("t.wait", {}, { signal: ctl.signal });
    ctl.abort();
    expect(await codeOf(p)).toBe("E_ABORTED");
  });

  test("reconnects after the agent goes away and comes back on the same path", async () => {
    const a = await startTestAgent({ plugins: [] });
    const path = a.socket;
    const c = client(`unix:${path}`);
    expect(await c.call("ping")).toEqual({});
    await a.agent.stop({ drainMs: 0 });
    await waitFor(() => !c.connected, 5000, "the client to see the close");
    expect(await codeOf(c.call("ping"))).toBe("E_SOCKET_MISSING");
    const again = createAgent({ plugins: [], log: memoryLogger() });
    await again.start();
    await listen(again, `unix:${path}`);
    cleanups.push(async () => {
      await again.stop({ drainMs: 0 });
      await a.close();
    });
    expect(await c.call("ping")).toEqual({});
  });

  test("a connection that drops with calls pending rejects them E_CONNECTION_CLOSED", async () => {
    const d = tempDir();
    cleanups.push(d.cleanup);
    const path = join(d.path, "drop.sock");
    const server = net.createServer((conn) => conn.once("data", () => conn.destroy()));
    await new Promise<void>((r) => server.listen(path, r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const c = client(`unix:${path}`);
    const codes = await Promise.all([codeOf(c.call("ping")), codeOf(c.call("hello"))]);
    expect(codes).toEqual(["E_CONNECTION_CLOSED", "E_CONNECTION_CLOSED"]);
  });

  test("a request over the frame cap is refused before sending", async () => {
    const a = await agentWith();
    const c = client(`unix:${a.socket}`, { maxFrameBytes: 1024 });
    expect(await codeOf(c.call("t.echo", { n: 1, pad: "x".repeat(2000) } as never))).toBe("E_REQUEST_TOO_LARGE");
    expect(await c.call("ping")).toEqual({});
  });

  test("callOnce opens, calls and closes", async () => {
    const a = await agentWith();
    expect((await callOnce(`unix:${a.socket}`, "hello")).agent).toBe("mvm-guest-agent");
    await waitFor(() => a.agent.connections() === 0);
  });

  test("close() rejects pending calls and refuses new ones", async () => {
    const a = await agentWith();
    const c = new AgentClient(`unix:${a.socket}`);
    const p = c.call("t.wait", {});
    await waitFor(() => c.inFlight === 1);
    await c.close();
    expect(await codeOf(p)).toBe("E_CLIENT_CLOSED");
    expect(await codeOf(c.call("ping"))).toBe("E_CLIENT_CLOSED");
  });
});

describe("connection failures are named", () => {
  test("missing socket, not a socket, stale socket", async () => {
    const d = tempDir();
    cleanups.push(d.cleanup);
    const missing = (await client(`unix:${d.path}/none.sock`).call("ping").catch((e) => e)) as ClientError;
    expect(missing.code).toBe("E_SOCKET_MISSING");
    expect(missing.message).toContain(`${d.path}/none.sock`);
    writeFileSync(join(d.path, "file"), "x");
    expect(await codeOf(client(`firecracker:${d.path}/file:52`).call("ping"))).toBe("E_NOT_A_SOCKET");
    // A socket file with nobody listening (what a killed VM leaves behind): bind without listening.
    const stale = join(d.path, "stale.sock");
    await Bun.spawn([process.execPath, "-e", "Bun.listen({ unix: process.argv[1], socket: { data() {} } }); process.exit(0)", stale]).exited;
    const refused = (await client(`unix:${stale}`).call("ping").catch((e) => e)) as ClientError;
    expect(refused.code).toBe("E_CONNECTION_REFUSED");
    expect(refused.message).toContain("stale socket");
  });

  test("vsock connect fails with a clear E_VSOCK error", async () => {
    // CID 3 is a guest that does not exist here (CID 1 would block for the kernel's 2 s connect timeout).
    const err = (await client("vsock:3:52").call("ping").catch((e) => e)) as ClientError;
    expect(err.code).toBe("E_VSOCK");
    expect(err.message).toMatch(/vsock 3:52: E[A-Z]+/);
  });
});

describe("fake Firecracker UDS", () => {
  test("bytes that arrive in the same chunk as the OK line are kept for the frame reader", async () => {
    const d = tempDir();
    cleanups.push(d.cleanup);
    const path = join(d.path, "v.sock");
    const frame = encodeFrame({ id: 1, type: "ping", ok: true, result: {} });
    const server = net.createServer((c) => c.once("data", () => c.write(Buffer.concat([Buffer.from("OK 1073741824\n"), frame]))));
    await new Promise<void>((r) => server.listen(path, r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const { socket, rest } = await openAgentStream(parseAgentAddress(`firecracker:${path}:52`), { signal: new AbortController().signal });
    socket.destroy();
    expect(Buffer.compare(rest, frame)).toBe(0);
  });

  test("CONNECT 52 -> OK 1073741824, then frames", async () => {
    const a = await agentWith();
    const fc = await fakeFirecracker(a.socket, a.dir);
    const c = client(`firecracker:${fc.path}:52`);
    expect(await c.call("t.echo", { n: 7 })).toEqual({ n: 7 });
    expect(fc.lines).toEqual(["CONNECT 52"]);
    const results = await Promise.all([c.call("ping"), c.call("t.echo", { n: 8 }), c.call("hello")]);
    expect(results[1]).toEqual({ n: 8 });
    expect(fc.lines.length).toBe(1);
  });

  test("a refused CONNECT (the guest has nobody on that port) is E_HANDSHAKE", async () => {
    const a = await agentWith();
    const fc = await fakeFirecracker(a.socket, a.dir, { refuse: true });
    const err = (await client(`firecracker:${fc.path}:52`).call("ping").catch((e) => e)) as ClientError;
    expect(err.code).toBe("E_HANDSHAKE");
    expect(err.message).toContain("no answer");
  });

  test("an answer other than OK is E_HANDSHAKE naming it", async () => {
    const a = await agentWith();
    const fc = await fakeFirecracker(a.socket, a.dir, { answer: "NOPE\n" });
    const err = (await client(`firecracker:${fc.path}:52`).call("ping").catch((e) => e)) as ClientError;
    expect(err.code).toBe("E_HANDSHAKE");
    expect(err.message).toContain('"NOPE"');
  });
});

describe("qemu-serial", () => {
  test("SYNC skips stale bytes from an earlier session, then frames flow", async () => {
    const a = await agentWith();
    const path = join(a.dir, "serial.sock");
    // A QEMU-like chardev server: one long agent session behind it, with junk already in the pipe.
    const server = net.createServer((c) => {
      const session = a.agent.openSession({ label: "serial-test", write: (b) => void c.write(b), end() {} }, "serial")!;
      c.write(Buffer.concat([Buffer.from("OK 52\nOK 52\n"), encodeFrame({ id: 1, ok: true, result: { stale: true } }).subarray(0, 7)]));
      c.on("data", (d: Buffer) => session.onData(d));
      c.on("close", () => session.close());
    });
    await new Promise<void>((r) => server.listen(path, r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const c = client(`qemu-serial:${path}`);
    expect(await c.call("t.echo", { n: 3 })).toEqual({ n: 3 });
    expect((await c.call("hello")).protocol).toBe(1);
  });
});

describe("qemu-serial resync", () => {
  test("a SYNC line lost while the guest boots is re-sent with a fresh token", async () => {
    const a = await agentWith();
    const path = join(a.dir, "serial2.sock");
    const seen: string[] = [];
    const server = net.createServer((c) => {
      const session = a.agent.openSession({ label: "serial-test", write: (b) => void c.write(b), end() {} }, "serial")!;
      let swallowed = false;
      c.on("data", (d: Buffer) => {
        if (!swallowed) {
          // The guest was not listening yet: the first line is lost.
          swallowed = true;
          seen.push(d.toString().trim());
          return;
        }
        session.onData(d);
      });
      c.on("close", () => session.close());
    });
    await new Promise<void>((r) => server.listen(path, r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const c = client(`qemu-serial:${path}`, { syncRetryMs: 20 });
    expect(await c.call("t.echo", { n: 9 })).toEqual({ n: 9 });
    expect(seen[0]).toMatch(/^SYNC [A-Za-z0-9_-]{16}$/);
  });
});

test("an idle client does not keep the process alive", async () => {
  const a = await agentWith();
  const script = join(a.dir, "idle.ts");
  writeFileSync(script, `import { AgentClient } from ${JSON.stringify(join(import.meta.dir, "agent-client.ts"))};\nconst c = new AgentClient(${JSON.stringify(`unix:${a.socket}`)});\nawait c.call("ping");\nconsole.log("answered");\n`);
  const p = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
  // Without close(), the process still ends once nothing is pending (the test's own timeout is the bound).
  expect(await p.exited).toBe(0);
  expect(await new Response(p.stdout).text()).toBe("answered\n");
});

describe("bad answers", () => {
  /** A unix server that answers the first request with these bytes. */
  async function answering(bytes: Buffer): Promise<string> {
    const d = tempDir();
    cleanups.push(d.cleanup);
    const path = join(d.path, "bad.sock");
    const server = net.createServer((c) => c.once("data", () => c.write(bytes)));
    await new Promise<void>((r) => server.listen(path, r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    return `unix:${path}`;
  }

  test("a body that is not JSON, an over-cap length, an answer without ok: E_PROTOCOL", async () => {
    const notJson = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from("{x}")]);
    const e1 = (await client(await answering(notJson)).call("ping").catch((e) => e)) as ClientError;
    expect(e1.code).toBe("E_PROTOCOL");
    expect(e1.message).toContain("not valid JSON");
    const huge = Buffer.from([0x7f, 0, 0, 0]);
    expect(await codeOf(client(await answering(huge), { maxFrameBytes: 1024 }).call("ping"))).toBe("E_PROTOCOL");
    expect(await codeOf(client(await answering(encodeFrame({ id: 1, result: {} }))).call("ping"))).toBe("E_PROTOCOL");
  });

  test("a connection-level error answer (no id) fails every pending call with the agent's code", async () => {
    const addr = await answering(encodeFrame({ ok: false, error: { code: "E_FRAME_TOO_LARGE", message: "frame length 9999999 is over the cap" } }));
    const c = client(addr);
    const codes = await Promise.all([codeOf(c.call("ping")), codeOf(c.call("hello"))]);
    expect(codes).toEqual(["E_FRAME_TOO_LARGE", "E_FRAME_TOO_LARGE"]);
  });
});
