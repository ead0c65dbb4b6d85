// Attack: connection slots held by clients that never send a frame, and a flood of refused clients each
// writing its own console line (issue 15). Injected clock: the test advances time, never sleeps for it.

import { afterEach, expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { ManualClock } from "../../agent/clock.ts";
import type { AgentPlugin } from "../../agent/plugin.ts";
import { defineRequest } from "../../agent/requests.ts";
import { RawClient, startTestAgent, waitFor, type TestAgent } from "../../agent/testing.ts";

let t: TestAgent | null = null;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await t?.close();
  t = null;
});
const connect = async () => {
  const c = await RawClient.connect(t!.socket);
  clients.push(c);
  return c;
};

/** `t.hold` answers when the test lets it go: a connection with work in flight. */
const held: (() => void)[] = [];
const holdPlugin: AgentPlugin = {
  name: "t",
  requests: {
    "t.hold": defineRequest({
      params: Type.Object({}),
      result: Type.Object({}),
      handle: () => new Promise<Record<string, never>>((r) => held.push(() => r({}))),
    }),
  },
};

test("silent connections lose their slot after --frame-timeout-secs; one line says how many", async () => {
  const clock = new ManualClock();
  t = await startTestAgent({ clock, maxConnections: 8, frameTimeoutSecs: 10, idleTimeoutSecs: 300 });
  const silent = await Promise.all([1, 2, 3, 4].map(() => connect()));
  await waitFor(() => t!.agent.connections() === 4);
  await clock.advance(9_000);
  expect(silent.every((c) => !c.closed)).toBe(true);
  await clock.advance(3_000);
  for (const c of silent) await c.waitClosed();
  const ok = await connect();
  expect(await ok.request({ type: "ping", id: 1 })).toMatchObject({ id: 1, ok: true });
  expect(t.log.lines.filter((l) => l.includes("sent no complete frame"))).toEqual([expect.stringContaining("closed 4 connection(s) that sent no complete frame within --frame-timeout-secs (10s)")]);
});

test("a connection that has sent a frame keeps its slot until the idle timeout, not the frame timeout", async () => {
  const clock = new ManualClock();
  t = await startTestAgent({ clock, frameTimeoutSecs: 10, idleTimeoutSecs: 60 });
  const c = await connect();
  expect(await c.request({ type: "ping", id: 1 })).toMatchObject({ ok: true });
  await clock.advance(30_000);
  expect(await c.request({ type: "ping", id: 2 })).toMatchObject({ id: 2, ok: true });
});

test("50 refusals at the connection cap make one console line a second, with a count", async () => {
  const clock = new ManualClock();
  t = await startTestAgent({ clock, maxConnections: 2, frameTimeoutSecs: 10, plugins: [holdPlugin] });
  // Both slots busy (an idle connection would be evicted to admit the newcomer, see below).
  for (const [i, c] of [await connect(), await connect()].entries()) c.send({ type: "t.hold", id: i });
  await waitFor(() => held.length === 2, 10_000, "two requests in flight");
  for (let i = 0; i < 50; i++) await (await connect()).waitClosed();
  const lines = () => t!.log.lines.filter((l) => l.includes("over --max-connections"));
  expect(lines()).toEqual([expect.stringContaining("over --max-connections (2): refused 1 connection(s) since the last such line")]);
  await clock.advance(1_500); // the sweep reports what the second held back
  expect(lines()).toHaveLength(2);
  expect(lines()[1]).toContain("refused 49 connection(s)");
  for (const r of held.splice(0)) r();
});

test("a serial session is never closed for silence (it resyncs instead)", async () => {
  const clock = new ManualClock();
  t = await startTestAgent({ clock, frameTimeoutSecs: 10, idleTimeoutSecs: 30 });
  const s = t.agent.openSession({ label: "serial:/dev/vport0p1", write: () => {}, end: () => {} }, "serial")!;
  await clock.advance(120_000);
  expect(t.agent.connections()).toBe(1);
  s.close();
});

test("at the cap, a new client evicts the connection idle the longest (one line a second, with a count)", async () => {
  const clock = new ManualClock();
  t = await startTestAgent({ clock, maxConnections: 8, frameTimeoutSecs: 10, idleTimeoutSecs: 300 });
  // Eight connections that each sent one ping and went quiet: with only the idle timeout, they would hold every slot for 300 s.
  const idle: RawClient[] = [];
  for (let i = 0; i < 8; i++) {
    const c = await connect();
    expect(await c.request({ type: "ping", id: i })).toMatchObject({ ok: true });
    idle.push(c);
    await clock.advance(1_000); // idle[0] is idle the longest, then idle[1] ...
  }
  for (let i = 0; i < 3; i++) {
    const fresh = await connect();
    expect(await fresh.request({ type: "ping", id: 100 + i })).toMatchObject({ id: 100 + i, ok: true });
    await idle[i]!.waitClosed();
  }
  expect(idle.slice(3).every((c) => !c.closed)).toBe(true);
  expect(t.agent.connections()).toBe(8);
  const lines = () => t!.log.lines.filter((l) => l.includes("to admit new ones"));
  expect(lines()).toEqual([expect.stringContaining("at --max-connections (8): closed 1 idle connection(s)")]);
  await clock.advance(1_500); // the sweep reports what the second held back
  expect(lines()[1]).toContain("closed 2 idle connection(s)");
});

test("a busy connection is never evicted: with every slot busy, a new client is refused", async () => {
  const clock = new ManualClock();
  t = await startTestAgent({ clock, maxConnections: 4, frameTimeoutSecs: 10, idleTimeoutSecs: 300, plugins: [holdPlugin] });
  const busy: RawClient[] = [];
  for (let i = 0; i < 4; i++) {
    const c = await connect();
    c.send({ type: "t.hold", id: i });
    busy.push(c);
  }
  await waitFor(() => held.length === 4, 10_000, "four requests in flight");
  await clock.advance(60_000); // long quiet on the wire, but each has work in flight
  const refused = await connect();
  await refused.waitClosed();
  expect(busy.every((c) => !c.closed)).toBe(true);
  // One lets go: now it is idle, and the next client takes its slot.
  held.shift()!();
  expect(await busy[0]!.next()).toMatchObject({ id: 0, ok: true });
  const next = await connect();
  expect(await next.request({ type: "ping", id: 9 })).toMatchObject({ ok: true });
  await busy[0]!.waitClosed();
  expect(busy.slice(1).every((c) => !c.closed)).toBe(true);
  for (const r of held.splice(0)) r();
});
