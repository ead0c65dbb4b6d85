// Reload without restart: SIGHUP and directory changes add, change and remove; unchanged ones keep state.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../../agent/testing.ts";
import { healthFixture, type HealthFixture } from "./testkit.ts";

let fx: HealthFixture | null = null;
afterEach(async () => {
  await fx?.close();
  fx = null;
});

function runs(file: string): number {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0;
}

/** Is any process alive in group `pgid`? (pgrep -g; zombies waiting for init do not count.) */
function groupAlive(pgid: number): boolean {
  const out = new TextDecoder().decode(Bun.spawnSync(["pgrep", "-g", String(pgid)]).stdout);
  return out
    .split("\n")
    .filter(Boolean)
    .some((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat[stat.lastIndexOf(")") + 2] !== "Z";
      } catch {
        return false;
      }
    });
}

describe("reload", () => {
  test("adds, changes and removes; an unchanged integration keeps its state and schedule", async () => {
    fx = await healthFixture();
    const aRuns = join(fx.dir, "a.runs");
    fx.write("a.json", { name: "a", health_cmd: `echo run >> ${aRuns}`, health_interval_secs: 10 });
    fx.write("b.json", { name: "b", health_cmd: "exit 1", failure_threshold: 1 });
    fx.write("c.json", { name: "c", health_cmd: "true" });
    await fx.agent.reload();
    await fx.tick(0);
    const a0 = await fx.entry("a");
    expect(a0.status).toBe("healthy");
    expect((await fx.entry("b")).status).toBe("error");
    expect(fx.agent.scheduler.size).toBe(3);

    await fx.tick(4000);
    // a.json rewritten with other whitespace and key order: the same integration.
    fx.write("a.json", `{\n  "health_interval_secs": 10,\n  "health_cmd": "echo run >> ${aRuns}",  "name": "a"\n}`);
    fx.write("b.json", { name: "b", health_cmd: "true", health_interval_secs: 5 });
    fx.remove("c.json");
    fx.write("d.json", { name: "d" });
    await fx.agent.reload();

    let h = await fx.health();
    expect(h.integrations.map((i) => [i.name, i.status])).toEqual([
      ["a", "healthy"],
      ["b", "pending"],
      ["d", "unchecked"],
    ]);
    expect(h.integrations[0]).toEqual(a0);
    expect(h.integrations[1]!.last).toBeNull();
    expect(fx.agent.scheduler.size).toBe(2);
    const lines = fx.lines();
    expect(lines).toContain(`d: added (${join(fx.dir, "integrations.d", "d.json")})`);
    expect(lines).toContain(`b: changed (${join(fx.dir, "integrations.d", "b.json")}); state reset, checks restart`);
    expect(lines).toContain("c: removed (its file is gone)");

    await fx.tick(0); // b's first check under its new spec
    expect((await fx.entry("b")).status).toBe("healthy");
    expect(runs(aRuns)).toBe(1);
    await fx.tick(5999); // t = 9.999 s: a is not due before 10 s after its first check
    expect(runs(aRuns)).toBe(1);
    await fx.tick(1);
    expect(runs(aRuns)).toBe(2);
    h = await fx.health();
    expect(h.ready).toBe(true);
  });

  test("a file that becomes invalid keeps the last good version and its state", async () => {
    fx = await healthFixture({ files: { "a.json": { name: "a", health_cmd: "true" } } });
    await fx.tick(0);
    const before = await fx.entry("a");
    fx.write("a.json", '{ "name": "a", "health_cmd": ');
    await fx.agent.reload();
    expect(await fx.entry("a")).toEqual(before);
    // It keeps running, but a file that does not load is a config error: not ready until fixed.
    expect(await fx.health()).toMatchObject({ ready: false, skipped_files: [{ file: join(fx.dir, "integrations.d/a.json") }] });
    const line = fx.lines().find((l) => l.includes(": skipped: "));
    expect(line).toMatch(/a\.json: skipped: not valid JSON: .*; keeping the last good version of "a"$/);
    fx.write("a.json", { name: "a", health_cmd: "exit 2", failure_threshold: 1 });
    await fx.agent.reload();
    await fx.tick(0);
    expect((await fx.entry("a")).status).toBe("error");
  });

  test("removing an integration kills its check in flight, and no result lands", async () => {
    fx = await healthFixture();
    const pidFile = join(fx.dir, "pgid");
    fx.write("slow.json", { name: "slow", health_cmd: `echo $$ > ${pidFile}; sleep 300`, health_timeout_secs: 600 });
    await fx.agent.reload();
    await fx.clock.advance(0);
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "", 10_000, "the check to start");
    const pgid = Number(readFileSync(pidFile, "utf8"));
    expect(groupAlive(pgid)).toBe(true);
    fx.remove("slow.json");
    await fx.agent.reload();
    await waitFor(() => !groupAlive(pgid), 10_000, "the check's group to be killed");
    await fx.agent.scheduler.idle();
    expect((await fx.health()).integrations).toEqual([]);
    expect(fx.lines().filter((l) => l.startsWith("slow: ") && l.includes("->"))).toEqual([]);
  });

  test("stopping the agent kills checks in flight", async () => {
    fx = await healthFixture();
    const pidFile = join(fx.dir, "pgid");
    fx.write("slow.json", { name: "slow", health_cmd: `echo $$ > ${pidFile}; sleep 300`, health_timeout_secs: 600 });
    await fx.agent.reload();
    await fx.clock.advance(0);
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "", 10_000, "the check to start");
    const pgid = Number(readFileSync(pidFile, "utf8"));
    await fx.agent.stop({ drainMs: 0 });
    // stop() waited for the check to end, so its group is already down.
    expect(groupAlive(pgid)).toBe(false);
    expect(fx.agent.scheduler.size).toBe(0);
    expect(fx.clock.pending()).toBe(0);
  });

  test("the directory is watched: files added and removed take effect without SIGHUP", async () => {
    fx = await healthFixture({ watch: true, files: { "a.json": { name: "a" } } });
    fx.write("b.json", { name: "b", health_cmd: "true" });
    await waitFor(async () => (await fx!.health()).integrations.length === 2, 10_000, "b to be added");
    fx.remove("a.json");
    await waitFor(async () => (await fx!.health()).integrations.map((i) => i.name).join() === "b", 10_000, "a to be removed");
  });

  test("a directory created after start is picked up on reload", async () => {
    fx = await healthFixture({ noDir: true });
    expect((await fx.health()).integrations).toEqual([]);
    fx.write("a.json", { name: "a" });
    await fx.agent.reload();
    expect((await fx.health()).integrations.map((i) => i.name)).toEqual(["a"]);
    writeFileSync(join(fx.dir, "integrations.d", "b.json"), "{}");
    await fx.agent.reload();
    expect(fx.lines().filter((l) => l.includes("b.json: skipped: field name: "))).toHaveLength(1);
  });
});
