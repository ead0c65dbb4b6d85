// Attack: connection slots held by clients that never send a frame, and a flood of refused clients each
// writing its own console line (issue 15). Injected clock: the test advances time, never sleeps for it.

import { afterEach, expect, test } from "bun:test";
import { ManualClock } from "../../agent/clock.ts";
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

test("silent connections lose their slot after --frame-timeout-secs; one line says how many", async () => {
  const clock = new ManualClock();
  t = await startTestAgent({ clock, maxConnections: 4, frameTimeoutSecs: 10, idleTimeoutSecs: 300 });
  const silent = await Promise.all([1, 2, 3, 4].map(() => connect()));
  await waitFor(() => t!.agent.connections() === 4);
  const refused = await connect();
  await refused.waitClosed(); // every slot is held
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
  t = await startTestAgent({ clock, maxConnections: 2, frameTimeoutSecs: 10 });
  for (const c of [await connect(), await connect()]) expect(await c.request({ type: "ping" })).toMatchObject({ ok: true });
  for (let i = 0; i < 50; i++) await (await connect()).waitClosed();
  const lines = () => t!.log.lines.filter((l) => l.includes("over --max-connections"));
  expect(lines()).toEqual([expect.stringContaining("over --max-connections (2): refused 1 connection(s) since the last such line")]);
  await clock.advance(1_500); // the sweep reports what the second held back
  expect(lines()).toHaveLength(2);
  expect(lines()[1]).toContain("refused 49 connection(s)");
});

test("a serial session is never closed for silence (it resyncs instead)", async () => {
  const clock = new ManualClock();
  t = await startTestAgent({ clock, frameTimeoutSecs: 10, idleTimeoutSecs: 30 });
  const s = t.agent.openSession({ label: "serial:/dev/vport0p1", write: () => {}, end: () => {} }, "serial")!;
  await clock.advance(120_000);
  expect(t.agent.connections()).toBe(1);
  s.close();
});
