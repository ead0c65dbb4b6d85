// Attack: escaping a deadline (issue 15). A command's child calls setsid and keeps stdout open: exec with
// timeout_secs 2 answered only when the child was killed by hand (22 s); a checkpoint_cmd of that kind
// held a sleep-prep with drain_timeout_secs 2 for 20 s. Both tracking mechanisms, against agent processes
// that are child subreapers: answered at the deadline, nothing survives, no zombie is left.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { ownCgroupDir } from "../../agent/track.ts";
import { RawClient, waitFor } from "../../agent/testing.ts";
import { liveWithMarker, request, spawnAgent, zombies, type SpawnedAgent as AgentProcess } from "../support/index.ts";

/** A tag in each sleep's argv (`sleep 300.<tag>` lives 300 s), so that only this test's processes are looked at. */
const TAG = `${process.pid % 10_000}${Date.now() % 100_000}`;
const SLEEP = `sleep 300.${TAG}`;
/** "Well under the 300 s the child would live": a bound that a loaded machine cannot flake. */
const BOUND_MS = 60_000;

const cgroupUsable = (() => {
  try {
    const dir = ownCgroupDir();
    return dir !== null && Bun.spawnSync(["test", "-w", `${dir}/cgroup.procs`]).exitCode === 0;
  } catch {
    return false;
  }
})();

function survivors(): number[] {
  return liveWithMarker(`300.${TAG}`);
}

for (const mode of ["cgroup", "proc"] as const) {
  describe.skipIf(mode === "cgroup" && !cgroupUsable)(`--command-tracking ${mode}`, () => {
    let a: AgentProcess;
    let c: RawClient;
    beforeAll(async () => {
      a = await spawnAgent({ files: { "integrations.d/esc.json": { name: "esc", checkpoint_cmd: `setsid ${SLEEP} & wait`, checkpoint_timeout_secs: 60 } }, args: ["--command-tracking", mode, "--log-level", "info"] });
      c = await RawClient.connect(a.socket);
      expect(a.console()).toContain(mode === "cgroup" ? "through a cgroup v2 per command" : "through an environment marker found through /proc");
      expect(a.console()).toContain("child subreaper: orphans are reaped here");
    }, 60_000);
    afterAll(async () => {
      c?.close();
      await a?.stop();
      for (const pid of survivors()) process.kill(pid, "SIGKILL"); // only if a test failed
    });

    test("exec of `setsid sleep 300 & wait` with timeout_secs 2: timed out at the deadline, nothing survives", async () => {
      const t0 = performance.now();
      const r = await request(c, { type: "exec", params: { command: `setsid ${SLEEP} & wait`, timeout_secs: 2 } }, BOUND_MS);
      const ms = performance.now() - t0;
      expect(r).toMatchObject({ ok: true, result: { timed_out: true } });
      expect(ms).toBeLessThan(BOUND_MS);
      expect(survivors()).toEqual([]);
    });

    test("a double fork that exits at once but keeps stdout: the command is not done until the deadline kills the holder", async () => {
      // The escapee says when it has its own session (so the group kill at exit cannot reach it first).
      const flag = `${a.dir}/escaped.${Math.random().toString(36).slice(2)}`;
      const escape = `(setsid sh -c 'echo > ${flag}; exec ${SLEEP}' &); while [ ! -e ${flag} ]; do sleep 0.01; done`;
      const r = await request(c, { type: "exec", params: { command: `${escape}; echo started`, timeout_secs: 2 } }, BOUND_MS);
      expect(r).toMatchObject({ ok: true, result: { timed_out: true, stdout: "started\n" } });
      expect(survivors()).toEqual([]);
    });

    test("a checkpoint_cmd of that kind under sleep-prep's drain deadline of 2 s: answered, nothing survives", async () => {
      const t0 = performance.now();
      const r = await request(c, { type: "sleep-prep", params: { drain_timeout_secs: 2 } }, BOUND_MS);
      expect(performance.now() - t0).toBeLessThan(BOUND_MS);
      expect(r.ok).toBe(true);
      expect(r.result.steps.find((s: { name: string }) => s.name === "checkpoint:esc")).toMatchObject({ ok: false, detail: expect.stringMatching(/^timed out after 2(\.0)?s \(the drain deadline\)$/) });
      expect(survivors()).toEqual([]);
      expect((await request(c, { type: "wake" })).ok).toBe(true);
    });

    test("100 such commands: no survivor and, once reaped, no zombie", async () => {
      // One reader for all (request() reads for one id at a time).
      for (let i = 0; i < 100; i++) {
        const flag = `${a.dir}/e${i}`;
        const command = i % 2 ? `setsid ${SLEEP} & wait` : `(setsid sh -c 'echo > ${flag}; exec ${SLEEP}' &); while [ ! -e ${flag} ]; do sleep 0.01; done`;
        c.send({ type: "exec", id: `h${i}`, params: { command, timeout_secs: 1 } });
      }
      const answers: any[] = [];
      while (answers.length < 100) answers.push(await c.next(BOUND_MS));
      for (const r of answers) expect(r.result.timed_out).toBe(true);
      expect(survivors()).toEqual([]);
      await waitFor(() => zombies(a.pid).length === 0, 20_000, `no zombie child of the agent (left: ${zombies(a.pid).map((z) => z.pid)})`);
    }, 120_000);

    test("a daemon that let go of the pipes is not a leak: the command answers at once and the daemon lives on", async () => {
      // The daemon says its pid once it has its own session; the command waits for that, then exits.
      const pidFile = `${a.dir}/daemon.pid`;
      const daemon = `setsid sh -c 'echo $$ > ${pidFile}; exec ${SLEEP}' </dev/null >/dev/null 2>&1 &`;
      const r = await request(c, { type: "exec", params: { command: `${daemon} while [ ! -s ${pidFile} ]; do sleep 0.01; done; cat ${pidFile}`, timeout_secs: 30 } });
      expect(r.result).toMatchObject({ exit_code: 0, timed_out: false });
      const pid = Number(r.result.stdout.trim());
      expect(survivors()).toEqual([pid]);
      // Out of the command's cgroup (which is gone), so no later kill of that cgroup reaches it.
      if (mode === "cgroup") expect(readFileSync(`/proc/${pid}/cgroup`, "utf8")).not.toContain("/cmd-");
      process.kill(pid, "SIGKILL");
      await waitFor(() => survivors().length === 0 && zombies(a.pid).length === 0, 20_000, "the daemon gone and reaped");
    });

    test(`a child that clears its environment (env -i): ${mode === "cgroup" ? "it cannot leave the cgroup" : "it escapes the marker, yet the answer still comes at the deadline"}`, async () => {
      const t0 = performance.now();
      const r = await request(c, { type: "exec", params: { command: `env -i setsid ${SLEEP.replace("sleep", "/bin/sleep")} & wait`, timeout_secs: 1 } }, BOUND_MS);
      expect(performance.now() - t0).toBeLessThan(BOUND_MS);
      expect(r.result.timed_out).toBe(true);
      if (mode === "cgroup") expect(survivors()).toEqual([]);
      else {
        // The documented limit of the marker (docs/security.md): this one is still running.
        const left = survivors();
        expect(left).toHaveLength(1);
        for (const pid of left) process.kill(pid, "SIGKILL");
      }
    });
  });
}
