// mvmctl wait: each condition against real agents, the backoff on an injected clock, the whole-wait deadline, exit codes,
// Ctrl-C, and hostile flags.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Value } from "@sinclair/typebox/value";
import { ManualClock } from "../../agent/clock.ts";
import { waitFor } from "../../agent/testing.ts";
import { HealthResult } from "../../plugins/health/schemas.ts";
import { fakePlugins, fakeState, type FakeState, fleet, lyingAgent, memoryIO, mvmctl } from "../testing.ts";
import { runCli } from "./run.ts";

let f: Awaited<ReturnType<typeof fleet>>;
let sick: FakeState;
let ok: FakeState;

beforeAll(async () => {
  ok = fakeState();
  sick = fakeState({ worker: "busy" });
  sick.integrations[0]!.status = "starting";
  f = await fleet([{ name: "vm1", plugins: fakePlugins(ok) }, { name: "sick", plugins: fakePlugins(sick) }, { name: "bare" }], [{ name: "gone", agent: "unix:/nonexistent/mvm/gone.sock" }]);
});
afterAll(async () => {
  await f.close();
});

const run = (...argv: string[]) => mvmctl(["--vms", f.vmsFile, ...argv]);

describe("wait: each condition", () => {
  test("met at once: one line on stdout, exit 0", async () => {
    const h = await run("wait", "vm1", "--for", "healthy");
    expect(h).toMatchObject({ code: 0, stderr: "" });
    expect(h.stdout).toMatch(/^vm1: healthy \(1 healthy, 1 unchecked\) after \d+ ms\n$/);
    expect((await run("wait", "vm1", "--for", "idle")).stdout).toMatch(/^vm1: idle after /);
    expect((await run("wait", "bare", "--for", "reachable")).stdout).toMatch(/^bare: reachable after /);
  });

  test("healthy and idle are waited for: met once the agent's answer changes", async () => {
    for (const [cond, change] of [["healthy", () => (sick.integrations[0]!.status = "healthy")], ["idle", () => (sick.worker = "idle")]] as const) {
      const clock = new ManualClock();
      const m = memoryIO({ clock });
      const waiting = runCli(["--vms", f.vmsFile, "wait", "sick", "--for", cond, "--timeout", "30"], m.io);
      await waitFor(() => clock.pending() === 1, 10_000, "the first look, not met, and its backoff");
      change();
      await clock.advance(100);
      expect(await waiting).toBe(0);
      expect(m.stdout).toStartWith(`sick: ${cond}`);
      expect(m.stdout).toContain("after 100 ms");
    }
  });

  test("reachable: an agent that comes up during the wait (its socket appears later)", async () => {
    const sock = join(f.dir, "late.sock");
    const vms = join(f.dir, "late.json");
    writeFileSync(vms, JSON.stringify({ vms: [{ name: "late", agent: `unix:${sock}` }] }));
    const m = memoryIO();
    const done = runCli(["--vms", vms, "wait", "late", "--for", "reachable", "--timeout", "30"], m.io);
    await Bun.sleep(300); // a few looks fail first (the wait itself is what is tested, not this delay)
    const late = await lyingAgent(sock, () => ({}));
    try {
      expect(await done).toBe(0);
      expect(m.stdout).toMatch(/^late: reachable after /);
    } finally {
      await late.close();
    }
  });
});

describe("wait: when the condition does not come", () => {
  test("past --timeout: exit 1 with the last thing seen; an unreachable agent is 'not yet'", async () => {
    const r = await run("wait", "gone", "--for", "reachable", "--timeout", "0.3");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^mvmctl: gone: not reachable after 300 ms; last seen: gone: unix:\/nonexistent\/mvm\/gone.sock: no socket at .* \[E_SOCKET_MISSING\]\n$/);
  });

  test("an agent without the plugin can never be healthy: exit 4 at once", async () => {
    const r = await run("wait", "bare", "--for", "healthy", "--timeout", "600");
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("bare: cannot wait for healthy: the agent has no health plugin");
    expect((await run("wait", "bare", "--for", "idle")).code).toBe(4);
  });

  test("reachable: an agent that answers ping with an error still answered (not exit 4 'no worker plugin')", async () => {
    const sock = join(f.dir, "noping.sock");
    const vms = join(f.dir, "noping.json");
    writeFileSync(vms, JSON.stringify({ vms: [{ name: "noping", agent: `unix:${sock}` }] }));
    const agent = await lyingAgent(sock, () => {
      throw { code: "E_UNKNOWN_REQUEST", message: "unknown request" };
    });
    try {
      const r = await mvmctl(["--vms", vms, "wait", "noping", "--for", "reachable", "--timeout", "5"]);
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout).toMatch(/^noping: reachable \(ping: E_UNKNOWN_REQUEST\) after /);
    } finally {
      await agent.close();
    }
  });

  test("no call outlives the wait: a hanging agent with a 30 s per-call deadline still ends at the wait's 0.4 s", async () => {
    sick.hang.add("health");
    sick.integrations[0]!.status = "starting";
    try {
      const r = await mvmctl(["--vms", f.vmsFile, "--timeout", "30", "wait", "sick", "--for", "healthy", "--timeout", "0.4"]);
      expect(r.code).toBe(1);
      // The call was cut at what was left of the wait (400 ms), not at the 30 s per-call deadline.
      expect(Number(/no answer to "health" within (\d+) ms/.exec(r.stderr)?.[1])).toBeLessThanOrEqual(400);
      // The global --timeout before the command stays the per-call deadline (here 50 ms a call).
      const short = await mvmctl(["--vms", f.vmsFile, "--timeout", "0.05", "wait", "sick", "--for", "healthy", "--timeout", "0.5"]);
      expect(short.code).toBe(1);
      expect(Number(/no answer to "health" within (\d+) ms/.exec(short.stderr)?.[1])).toBeLessThanOrEqual(50);
    } finally {
      sick.hang.delete("health");
    }
  });

  test("Ctrl-C: exit 130 with what was seen, no timer left", async () => {
    const clock = new ManualClock();
    const m = memoryIO({ clock });
    const done = runCli(["--vms", f.vmsFile, "wait", "gone", "--for", "reachable", "--timeout", "60"], m.io);
    await waitFor(() => clock.pending() === 1, 10_000, "the first backoff");
    m.stop.abort();
    expect(await done).toBe(130);
    expect(m.stderr).toContain("gone: interrupted while waiting for reachable (last seen: gone: ");
    expect(clock.pending()).toBe(0);
  });
});

describe("wait on a terminal", () => {
  test("one line says what the wait sees now, rewritten each look and erased at the end; nothing of it into a pipe", async () => {
    const clock = new ManualClock();
    const m = memoryIO({ clock, tty: true, columns: 60, env: { TERM: "xterm" } });
    const done = runCli(["--vms", f.vmsFile, "wait", "gone", "--for", "reachable", "--timeout", "0.3"], m.io);
    await waitFor(() => clock.pending() === 1, 10_000, "the first look");
    expect(m.stdout).toMatch(/^\r\x1b\[2Kgone: waiting for reachable: gone: unix:\/nonexistent.*…$/);
    for (const gap of [100, 200]) {
      await clock.advance(gap);
      await waitFor(() => clock.pending() === 1 || m.stderr !== "", 10_000, "the next look");
    }
    expect(await done).toBe(1);
    expect(m.stdout).toEndWith("\r\x1b[2K");
    for (const line of m.stdout.split("\r\x1b[2K")) expect(line.length).toBeLessThanOrEqual(60);
    const piped = await mvmctl(["--vms", f.vmsFile, "wait", "gone", "--for", "reachable", "--timeout", "0.2"]);
    expect(piped.stdout).toBe("");
  });
});

describe("wait: backoff on an injected clock", () => {
  test("looks at 0, 0.1, 0.3, 0.7, 1.5, 3.1, 5.1, 7.1 and 9.1 s of a 10 s wait, then times out: no busy loop, nothing left armed", async () => {
    let looks = 0;
    const answer = { integrations: [{ name: "db", status: "starting", detail: "grace", since: "2026-11-28T10:00:00.000Z", consecutive_failures: 0, last: null }], ready: false };
    expect(Value.Check(HealthResult, answer)).toBe(true); // an answer the real plugin can give
    const agent = await lyingAgent(join(f.dir, "slow.sock"), (type) => (type === "health" ? (looks++, answer) : {}));
    const vms = join(f.dir, "slow.json");
    writeFileSync(vms, JSON.stringify({ vms: [{ name: "slow", agent: agent.address }] }));
    try {
      const clock = new ManualClock();
      const m = memoryIO({ clock });
      const done = runCli(["--vms", vms, "wait", "slow", "--for", "healthy", "--timeout", "10"], m.io);
      const gaps = [100, 200, 400, 800, 1600, 2000, 2000, 2000];
      for (const [i, gap] of gaps.entries()) {
        await waitFor(() => looks === i + 1 && clock.pending() === 1, 10_000, `look ${i + 1} and its backoff`);
        await clock.advance(gap);
      }
      await waitFor(() => looks === 9 && clock.pending() === 1, 10_000, "the last look");
      await clock.advance(900); // to the end of the 10 s: no tenth look
      expect(await done).toBe(1);
      expect(looks).toBe(9);
      expect(m.stderr).toBe("mvmctl: slow: not healthy after 10.0 s; last seen: not ready (1 starting)\n");
      expect(clock.pending()).toBe(0);
    } finally {
      await agent.close();
    }
  });
});

describe("wait: hostile flags", () => {
  test.each([
    [["--for", "helthy"], 'unknown condition "helthy" (did you mean healthy?)'],
    [["--for", "ready"], 'unknown condition "ready" (conditions: healthy, idle, reachable)'],
    [[], "--for is required"],
    [["--for", "healthy", "--timeout", "0"], "--timeout expects seconds above 0 and at most 86400, got 0"],
    [["--for", "healthy", "--timeout", "-5"], "got -5"],
    [["--for", "healthy", "--timeout", "1e99"], "got 1e+99"],
    [["--for", "healthy", "--timeout", "soon"], 'expected a number, got "soon"'],
    [["--for", "\x1b[2Jhealthy"], "\\u001b[2Jhealthy"],
    [["--fro", "healthy"], "unknown flag --fro (did you mean --for?)"],
  ])("%j is exit 2: %s", async (flags, message) => {
    const r = await run("wait", "vm1", ...flags);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain("\x1b");
  });

  test("an unknown VM is exit 2 with the nearest names", async () => {
    const r = await run("wait", "vm2", "--for", "healthy");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("vm1");
  });
});
