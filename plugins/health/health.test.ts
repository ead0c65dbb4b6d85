// Health checks through the real runner on a manual clock: grace, thresholds, timeouts, concurrency, memory.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createAgent } from "../../agent/agent.ts";
import { ManualClock } from "../../agent/clock.ts";
import { createLogger } from "../../agent/log.ts";
import { tempDir, waitFor } from "../../agent/testing.ts";
import { healthPlugin } from "./health.ts";
import { healthFixture, type HealthFixture } from "./testkit.ts";

let fx: HealthFixture | null = null;
afterEach(async () => {
  await fx?.close();
  fx = null;
});

/**
 * Live processes of process group `pgid` (pgrep -g), leaving out zombies: a killed grandchild is
 * a zombie until init reaps it, which is not this agent's business.
 */
function groupMembers(pgid: number): number[] {
  const r = Bun.spawnSync(["pgrep", "-g", String(pgid)]);
  return new TextDecoder()
    .decode(r.stdout)
    .split("\n")
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        // /proc/PID/stat: "pid (comm) S ..."; the state follows the last ')'.
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
      } catch {
        return false; // gone between pgrep and the read
      }
    });
}

function lineCount(file: string): number {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0;
}

describe("startup grace", () => {
  test("failures in grace are reported as starting and not logged; after grace: error", async () => {
    fx = await healthFixture({
      files: { "web.json": { name: "web", health_cmd: "echo boom >&2; exit 3", health_interval_secs: 2, startup_grace_secs: 10 } },
    });
    await fx.tick(0);
    let e = await fx.entry("web");
    expect(e.status).toBe("starting");
    expect(e.detail).toContain("last check: exit 3: boom");
    expect(e.last).toMatchObject({ ok: false, exit_code: 3, signal: null, timed_out: false, output: "boom" });
    for (let t = 2; t < 10; t += 2) await fx.tick(2000);
    e = await fx.entry("web");
    expect(e.status).toBe("starting");
    expect(e.consecutive_failures).toBe(5);
    expect(fx.lines().filter((l) => l.startsWith("web:"))).toEqual([]);
    expect((await fx.health()).ready).toBe(false);

    await fx.tick(2000); // t = 10 s: grace over
    e = await fx.entry("web");
    expect(e.status).toBe("error");
    expect(e.detail).toStartWith("exit 3: boom");
    // The grace ends at 10 s, just before the check due then: the change is told; the failure right
    // after it is the same story, so it is quiet (told again only after --log-repeat-secs).
    expect(fx.lines().filter((l) => l.startsWith("web:"))).toEqual(["web: starting -> error (exit 3: boom; 5 failures in a row; startup grace over)"]);
  });

  test("the first healthy verdict ends the grace: a later failure is an error at once", async () => {
    fx = await healthFixture();
    const code = join(fx.dir, "code");
    writeFileSync(code, "0");
    fx.write("a.json", { name: "a", health_cmd: `exit $(cat ${code})`, health_interval_secs: 1, startup_grace_secs: 60, failure_threshold: 1 });
    await fx.agent.reload();
    await fx.tick(0);
    expect((await fx.entry("a")).status).toBe("healthy");
    expect(fx.lines()).toContain("a: starting -> healthy (exit 0, 0 ms)");
    writeFileSync(code, "1");
    await fx.tick(1000);
    const e = await fx.entry("a");
    expect(e.status).toBe("error");
    expect(e.detail).toBe("exit 1");
    expect(fx.lines()).toContain("a: healthy -> error (exit 1) duration_ms=0");
  });

  test("no result and no grace is pending; no health_cmd is unchecked and counted as ready", async () => {
    fx = await healthFixture({
      files: { "a.json": { name: "a", health_cmd: "true" }, "b.json": { name: "b" } },
    });
    // Before the first timer fires nothing has run yet.
    let h = await fx.health();
    expect(h.integrations.map((i) => [i.name, i.status])).toEqual([
      ["a", "pending"],
      ["b", "unchecked"],
    ]);
    expect(h.integrations[0]!.detail).toBe("waiting for the first check");
    expect(h.integrations[1]!.detail).toContain("counted as ready");
    expect(h.ready).toBe(false);
    await fx.tick(0);
    h = await fx.health();
    expect(h.integrations[0]!.status).toBe("healthy");
    expect(h.ready).toBe(true);
  });
});

describe("console lines of a failing check", () => {
  test("told when it starts failing, then at most once per --log-repeat-secs with a count and since when; once when it passes again", async () => {
    const d = tempDir("mvm-health-repeat-");
    mkdirSync(join(d.path, "integrations.d"));
    const code = join(d.path, "code");
    writeFileSync(code, "1");
    writeFileSync(join(d.path, "integrations.d/a.json"), JSON.stringify({ name: "a", health_cmd: `echo refused >&2; exit $(cat ${code})`, health_interval_secs: 10, failure_threshold: 3 }));
    const clock = new ManualClock(Date.parse("2026-11-28T10:02:00Z"));
    const json: string[] = [];
    const agent = createAgent({
      plugins: [healthPlugin({ configDir: d.path, watch: false })],
      config: { configDir: d.path, logRepeatSecs: 60 },
      clock,
      log: createLogger({ format: "json", sink: (l) => json.push(l) }, "core"),
    });
    await agent.start();
    const tick = async (ms: number) => {
      await clock.advance(ms);
      await agent.scheduler.idle();
    };
    await tick(0);
    // 37 failures, 10 s apart: about six minutes.
    for (let i = 1; i < 37; i++) await tick(10_000);
    const lines = json.map((l) => JSON.parse(l)).filter((l) => l.component === "health" && l.integration === "a");
    const msgs = lines.map((l) => l.msg);
    expect(msgs[0]).toBe("a: check failed: exit 1: refused");
    expect(msgs[1]).toBe("a: pending -> error (exit 1: refused; 3 failures in a row)");
    const repeats = msgs.filter((m) => m.includes("still failing"));
    // One per minute at most (not one per check): 37 failures over 6 minutes -> 5 or 6 lines, not 35.
    expect(repeats.length).toBeGreaterThanOrEqual(5);
    expect(repeats.length).toBeLessThanOrEqual(6);
    expect(repeats.at(-1)).toMatch(/^a: still failing: 3\d times in a row since 10:02:00Z \(exit 1: refused\)$/);
    // JSON lines carry the integration and the check's duration as keys, not only in the sentence.
    expect(lines[0]).toMatchObject({ level: "warn", integration: "a", duration_ms: expect.any(Number) });
    writeFileSync(code, "0");
    await tick(10_000);
    const after = json.map((l) => JSON.parse(l)).filter((l) => l.integration === "a").map((l) => l.msg);
    expect(after.at(-1)).toBe("a: error -> healthy (exit 0, 0 ms)");
    await agent.stop();
    d.cleanup();
  });
});

describe("thresholds", () => {
  test("failure_threshold defaults to 3: one or two failures are not an error yet, the third is", async () => {
    fx = await healthFixture();
    const code = join(fx.dir, "code");
    writeFileSync(code, "0");
    fx.write("a.json", { name: "a", health_cmd: `exit $(cat ${code})`, health_interval_secs: 1 });
    await fx.agent.reload();
    await fx.tick(0);
    expect((await fx.entry("a")).status).toBe("healthy");
    writeFileSync(code, "1");
    await fx.tick(1000);
    expect(await fx.entry("a")).toMatchObject({ status: "healthy", consecutive_failures: 1, detail: "exit 1 (1 of 3 failures before error)" });
    await fx.tick(1000);
    expect((await fx.entry("a")).status).toBe("healthy");
    await fx.tick(1000);
    expect(await fx.entry("a")).toMatchObject({ status: "error", consecutive_failures: 3, detail: "exit 1; 3 failures in a row" });
    expect((await fx.health()).ready).toBe(false);
  });

  test("success_threshold passes before healthy, failure_threshold failures before error, and back", async () => {
    fx = await healthFixture();
    const code = join(fx.dir, "code");
    writeFileSync(code, "0");
    fx.write("s.json", { name: "s", health_cmd: `echo out; exit $(cat ${code})`, health_interval_secs: 1, failure_threshold: 3, success_threshold: 2 });
    await fx.agent.reload();
    const seen: string[] = [];
    const step = async (ms: number) => {
      await fx!.tick(ms);
      const e = await fx!.entry("s");
      seen.push(`${e.status}/${e.consecutive_failures}`);
    };
    await step(0);
    await step(1000);
    writeFileSync(code, "1");
    await step(1000);
    await step(1000);
    await step(1000);
    await step(1000);
    writeFileSync(code, "0");
    await step(1000);
    await step(1000);
    expect(seen).toEqual(["pending/0", "healthy/0", "healthy/1", "healthy/2", "error/3", "error/4", "error/0", "healthy/0"]);
    const lines = fx.lines().filter((l) => l.startsWith("s:"));
    // A failure is told when it starts and when it changes the status; the failures in between are quiet.
    expect(lines).toEqual([
      `s: added (${join(fx.dir, "integrations.d", "s.json")})`,
      "s: pending -> healthy (exit 0, 0 ms)",
      "s: check failed: exit 1: out duration_ms=0",
      "s: healthy -> error (exit 1: out; 3 failures in a row) duration_ms=0",
      "s: check passed again (exit 0, 0 ms); 1 of 2 passes before healthy",
      "s: error -> healthy (exit 0, 0 ms)",
    ]);
  });
});

describe("timeouts", () => {
  test("a timed-out check fails with its detail and leaves no process of its group alive", async () => {
    fx = await healthFixture();
    const pidFile = join(fx.dir, "pgid");
    fx.write("slow.json", {
      name: "slow",
      health_cmd: `sleep 300 & sleep 300 & echo $$ > ${pidFile}; wait`,
      health_timeout_secs: 2,
      failure_threshold: 1,
    });
    await fx.agent.reload();
    await fx.clock.advance(0);
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "", 10_000, "the check to start");
    const pgid = Number(readFileSync(pidFile, "utf8").trim());
    await waitFor(() => groupMembers(pgid).length >= 3, 10_000, "sh and two sleeps in the group");
    await fx.tick(2000);
    const e = await fx.entry("slow");
    expect(e.status).toBe("error");
    expect(e.detail).toBe("timed out after 2s");
    expect(e.last).toMatchObject({ ok: false, timed_out: true, exit_code: null, signal: "SIGKILL" });
    await waitFor(() => groupMembers(pgid).length === 0, 5_000, "the group to be gone");
    expect(groupMembers(pgid)).toEqual([]);
    expect(fx.lines()).toContain("slow: pending -> error (timed out after 2s) duration_ms=2000");
  });

  test("a command that cannot start is a failure that says why", async () => {
    fx = await healthFixture({ files: { "c.json": { name: "c", health_cmd: "true", cwd: "/nonexistent/dir", failure_threshold: 1 } } });
    await fx.tick(0);
    const e = await fx.entry("c");
    expect(e.status).toBe("error");
    expect(e.detail).toStartWith("failed to start: ");
  });
});

describe("concurrency", () => {
  test("a slow check does not delay a fast one", async () => {
    fx = await healthFixture();
    const fifo = join(fx.dir, "slow.fifo");
    const count = join(fx.dir, "fast.count");
    Bun.spawnSync(["mkfifo", fifo]);
    fx.write("a-slow.json", { name: "slow", health_cmd: `cat ${fifo}`, health_interval_secs: 5, health_timeout_secs: 60 });
    fx.write("b-fast.json", { name: "fast", health_cmd: `echo x >> ${count}`, health_interval_secs: 1 });
    await fx.agent.reload();
    // Time moves on only once the agent has counted the fast check (its next run is armed from when it
    // ended): the line in the file comes before the process exits, and advancing then left check 2 due
    // after the advance (a flake seen in CI).
    const fastChecks = async () => (await fx!.entry("fast")).checks_total ?? 0;
    await fx.clock.advance(0);
    await waitFor(async () => (await fastChecks()) === 1, 10_000, "the first fast check");
    for (let i = 2; i <= 4; i++) {
      await fx.clock.advance(1000);
      await waitFor(async () => (await fastChecks()) === i, 10_000, `fast check ${i}`);
    }
    expect(lineCount(count)).toBe(4);
    expect((await fx.entry("slow")).last).toBeNull();
    expect((await fx.entry("fast")).status).toBe("healthy");
    writeFileSync(fifo, "done\n"); // the slow check ends
    await waitFor(async () => (await fx!.entry("slow")).status === "healthy", 10_000, "the slow check to pass");
    expect((await fx.entry("slow")).last?.output).toBe("done");
  });

  test("--max-concurrent-checks bounds checks in flight; the rest wait their turn", async () => {
    fx = await healthFixture({ maxConcurrentChecks: 2 });
    const started = join(fx.dir, "started");
    for (const n of ["a", "b", "c"]) {
      Bun.spawnSync(["mkfifo", join(fx.dir, `${n}.fifo`)]);
      fx.write(`${n}.json`, { name: n, health_cmd: `echo ${n} >> ${started}; cat ${join(fx.dir, `${n}.fifo`)}`, health_timeout_secs: 60 });
    }
    await fx.agent.reload();
    await fx.clock.advance(0);
    await waitFor(() => lineCount(started) === 2, 10_000, "two checks to start");
    await fx.clock.advance(0);
    expect(lineCount(started)).toBe(2);
    const first = readFileSync(started, "utf8").split("\n").filter(Boolean);
    const waiting = ["a", "b", "c"].find((n) => !first.includes(n))!;
    writeFileSync(join(fx.dir, `${first[0]}.fifo`), "ok\n");
    await waitFor(() => lineCount(started) === 3, 10_000, `check ${waiting} to start`);
    for (const n of [first[1]!, waiting]) writeFileSync(join(fx.dir, `${n}.fifo`), "ok\n");
    await fx.agent.scheduler.idle();
    expect((await fx.health()).ready).toBe(true);
  });
});

describe("output", () => {
  test("a check writing 50 MB keeps the last 4 KiB and agent memory bounded", async () => {
    fx = await healthFixture({
      files: { "big.json": { name: "big", health_cmd: "head -c 50000000 /dev/zero | tr '\\0' 'x'; echo; echo tail-marker", health_timeout_secs: 120 } },
    });
    Bun.gc(true);
    const before = process.memoryUsage();
    await fx.tick(0);
    const e = await fx.entry("big");
    expect(e.status).toBe("healthy");
    const out = e.last!.output;
    expect(out.endsWith("tail-marker")).toBe(true);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(4096);
    Bun.gc(true);
    const after = process.memoryUsage();
    // Keeping the output would hold 50 MB; draining into a 4 KiB tail holds nothing after the check.
    // (The peak memory of an agent process is checked in binary.test.ts, where no other test shares
    // the process's RSS.)
    expect(after.heapUsed - before.heapUsed).toBeLessThan(8 * 1024 * 1024);
  });
});
