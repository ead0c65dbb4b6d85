// Load: 1 000 concurrent connections x 100 pings with ids, plus 200 slow clients dribbling half frames, against an agent process.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { RawClient, waitFor } from "../../agent/testing.ts";
import { framed } from "./gen.ts";
import { fds, freshPing, request, spawnAgent, waitConnections, zombies } from "../support/index.ts";

const CONNS = Number(process.env.MVM_LOAD_CONNS ?? 1000);
const PINGS = 100;
const SLOW = Number(process.env.MVM_LOAD_SLOW ?? 200);
const FRAME_TIMEOUT_SECS = 2;

/** The soft fd limit of this process (the agent inherits it). */
function fdLimit(): number {
  const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync("/proc/self/limits", "utf8"));
  return m?.[1] === "unlimited" ? Infinity : Number(m?.[1] ?? 1024);
}

/**
 * Connect `n` clients, at most 100 connects in flight (a unix listen backlog is finite). Each sends a
 * first ping at once: a connection with no complete frame is closed after --frame-timeout-secs.
 */
async function connectAll(socket: string, n: number): Promise<RawClient[]> {
  const out: RawClient[] = [];
  const open = async () => {
    const c = await RawClient.connect(socket);
    expect(await c.request({ type: "ping" })).toMatchObject({ ok: true });
    return c;
  };
  for (let i = 0; i < n; i += 100) out.push(...(await Promise.all(Array.from({ length: Math.min(100, n - i) }, open))));
  return out;
}

/** A client that sends a frame header and then one byte of its body every 200 ms, until the agent cuts it. */
async function slowClient(socket: string): Promise<{ cutByAgent: boolean; bytesSent: number }> {
  const c = await RawClient.connect(socket);
  const body = framed(JSON.stringify({ type: "ping", id: "slow", params: {}, pad: "x".repeat(80) }));
  c.write(body.subarray(0, 4 + 10)); // the header and a bit: half a frame
  let sent = 14;
  const timer = setInterval(() => {
    if (c.closed) return;
    if (sent < body.length / 2) c.write(body.subarray(sent, ++sent)); // never more than half the frame
  }, 200);
  try {
    await c.waitClosed(60_000);
    return { cutByAgent: true, bytesSent: sent };
  } catch {
    return { cutByAgent: false, bytesSent: sent };
  } finally {
    clearInterval(timer);
    c.close();
  }
}

test(`load: ${CONNS} connections x ${PINGS} pings with ids, and ${SLOW} slow clients cut at the frame timeout`, async () => {
  const need = CONNS + SLOW + 200;
  if (fdLimit() < need) throw new Error(`this test needs ${need} open files in the test process and in the agent; raise it with \`ulimit -n ${need * 2}\` (now ${fdLimit()})`);
  const a = await spawnAgent({ args: ["--max-connections", String(CONNS + SLOW + 100), "--frame-timeout-secs", String(FRAME_TIMEOUT_SECS), "--log-level", "warn"] });
  try {
    let ctl = await RawClient.connect(a.socket);
    await waitConnections(ctl, 1);
    const fdsBefore = fds(a.pid).length;

    const slow = Array.from({ length: SLOW }, () => slowClient(a.socket));
    const clients = await connectAll(a.socket, CONNS);
    // Every connection open at once (ours, the slow ones that are not yet cut, and the pingers).
    const peak = (await request(ctl, { type: "status" })).result.connections;
    expect(peak).toBeGreaterThanOrEqual(CONNS + 1);

    const results = await Promise.all(
      clients.map(async (c, ci) => {
        for (let i = 0; i < PINGS; i++) c.send({ type: "ping", id: ci * PINGS + i });
        const seen = new Set<number>();
        let bad = 0;
        while (seen.size < PINGS) {
          const f = (await c.next(120_000)) as any;
          if (f === null) break;
          if (f.ok === true && f.type === "ping" && typeof f.id === "number" && f.id >= ci * PINGS && f.id < (ci + 1) * PINGS && !seen.has(f.id)) seen.add(f.id);
          else bad++;
        }
        c.close();
        return { answered: seen.size, bad };
      }),
    );
    const slowResults = await Promise.all(slow);

    expect(results.reduce((n, r) => n + r.answered, 0)).toBe(CONNS * PINGS);
    expect(results.reduce((n, r) => n + r.bad, 0)).toBe(0);
    // Slow clients: every one cut by the agent while its frame was still half sent, each with a console line.
    expect(slowResults.filter((r) => r.cutByAgent).length).toBe(SLOW);
    expect(a.console().match(/half a frame stalled for over 2s; closing/g)?.length ?? 0).toBe(SLOW);

    ctl.close();
    ctl = await RawClient.connect(a.socket);
    await waitConnections(ctl, 1);
    ctl.close();
    // The agent sees the last close a moment later; a leak never comes back down.
    await waitFor(() => fds(a.pid).length <= fdsBefore, 10_000, `fds back to ${fdsBefore} (now ${fds(a.pid).length})`).catch(() => {});
    expect(fds(a.pid).length).toBeLessThanOrEqual(fdsBefore);
    expect(await freshPing(a.socket)).toBe(true);
    expect(zombies(a.pid)).toEqual([]);
    expect(a.exitCode()).toBeNull();
  } catch (e) {
    console.error(`agent console (tail):\n${a.console().slice(-3000)}`);
    throw e;
  } finally {
    await a.stop();
  }
}, 240_000);
