// Fault injection, state: config dir deleted and recreated, overlay upper dir unreadable in parts, clients gone mid sleep-prep and mid streaming exec.

import { expect, test } from "bun:test";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RawClient, tempDir, waitFor } from "../../agent/testing.ts";
import { call, liveWithMarker, request, spawnAgent, writeFiles, zombies, type SpawnedAgent as AgentProcess } from "../support/index.ts";

const MARK = `${process.pid % 10_000}${Date.now() % 100_000}`;
const slp = (n: number) => `sleep ${2000 + n}.${MARK}`;

async function clean(a: AgentProcess): Promise<void> {
  await waitFor(() => liveWithMarker(MARK).length === 0, 15_000, `no process with marker ${MARK} (left: ${liveWithMarker(MARK).join(",")})`);
  await waitFor(() => zombies(a.pid).length === 0, 10_000, "no zombie child of the agent");
  expect((await call(a.socket, { type: "ping" })).ok).toBe(true);
  expect(a.exitCode()).toBeNull();
}

async function withAgent(files: Record<string, unknown>, extra: string[], fn: (a: AgentProcess) => Promise<void>, wrap: string[] = []): Promise<void> {
  const a = await spawnAgent({ files, args: ["--log-level", "warn", ...extra], wrap });
  try {
    await fn(a);
  } catch (e) {
    console.error(`agent console (tail):\n${a.console().slice(-3000)}`);
    throw e;
  } finally {
    await a.stop();
    for (const pid of liveWithMarker(MARK)) process.kill(pid, "SIGKILL");
  }
}

const names = (xs: { name: string }[]) => xs.map((x) => x.name).sort();

test("config dir deleted and recreated while running: requests keep answering, the new files are picked up", async () => {
  await withAgent(
    {
      "integrations.d/a.json": { name: "a", health_cmd: "true", health_interval_secs: 3600 },
      "probes.d/pa.json": { name: "pa", command: "echo 1", interval_secs: 3600 },
    },
    [],
    async (a) => {
      expect(names((await call(a.socket, { type: "health" })).result.integrations)).toEqual(["a"]);
      rmSync(a.configDir, { recursive: true, force: true });
      // Gone: every request still answers (with an empty or the last good set), nothing crashes.
      for (const type of ["ping", "status", "health", "probes", "worker-status"]) expect((await call(a.socket, { type })).ok).toBe(true);
      await waitFor(async () => names((await call(a.socket, { type: "health" })).result.integrations).length === 0, 20_000, "health to drop the deleted integration");
      writeFiles(a.configDir, {
        "integrations.d/b.json": { name: "b", health_cmd: "true", health_interval_secs: 3600 },
        "probes.d/pb.json": { name: "pb", command: "echo 2", interval_secs: 3600 },
      });
      await waitFor(async () => names((await call(a.socket, { type: "health" })).result.integrations).join() === "b", 20_000, "health to load the recreated dir");
      await waitFor(async () => names((await call(a.socket, { type: "probes" })).result.probes).join() === "pb", 20_000, "probes to load the recreated dir");
      expect((await call(a.socket, { type: "health-check", params: { name: "b" } })).result.last.ok).toBe(true);
      expect((await call(a.socket, { type: "probe-run", params: { name: "pb" } })).result.value).toBe(2);
      await clean(a);
    },
  );
}, 90_000);

test("overlay upper dir unreadable in parts: fs-diff lists what it can read and names what it cannot", async () => {
  // Root ignores permission bits; the agent runs as root WITHOUT CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH, so mode 000 bites.
  const d = tempDir("mvm-rel-overlay-");
  try {
    const upper = join(d.path, "upper");
    const lower = join(d.path, "lower");
    mkdirSync(join(upper, "secret/deep"), { recursive: true });
    mkdirSync(join(upper, "open"), { recursive: true });
    mkdirSync(lower, { recursive: true });
    writeFileSync(join(upper, "new.txt"), "n");
    writeFileSync(join(upper, "open/x.txt"), "x");
    writeFileSync(join(upper, "secret/deep/hidden.txt"), "h");
    writeFileSync(join(upper, "zlast.txt"), "z");
    chmodSync(join(upper, "secret"), 0o000);
    const dropDac = ["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search", "--"];
    await withAgent(
      {},
      ["--overlay-upper", upper, "--overlay-lower", lower],
      async (a) => {
        for (let i = 0; i < 3; i++) {
          const r = await call(a.socket, { type: "fs-diff" });
          expect(r.ok).toBe(true);
          const paths = r.result.changes.map((c: { path: string }) => c.path);
          expect(paths).toEqual(expect.arrayContaining(["/new.txt", "/open/x.txt", "/zlast.txt"]));
          expect(paths.some((p: string) => p.includes("hidden"))).toBe(false);
          expect(JSON.stringify(r.result.errors)).toContain("secret");
        }
        // The upper dir itself unreadable: a clear answer, and the agent goes on.
        chmodSync(upper, 0o000);
        const r = await call(a.socket, { type: "fs-diff" });
        expect(r.ok ? JSON.stringify(r.result.errors) : r.error.code).toMatch(/E_UNAVAILABLE|permission|EACCES/i);
        chmodSync(upper, 0o755);
        await clean(a);
      },
      dropDac,
    );
  } finally {
    chmodSync(join(d.path, "upper"), 0o755);
    chmodSync(join(d.path, "upper/secret"), 0o755);
    d.cleanup();
  }
}, 60_000);

test("client gone in the middle of sleep-prep: the checkpoint does not outlive its timeout, wake and a second sleep-prep work", async () => {
  await withAgent(
    { "integrations.d/cp.json": { name: "cp", checkpoint_cmd: slp(1), checkpoint_timeout_secs: 2, restore_cmd: "true" } },
    ["--resume-after-secs", "0"],
    async (a) => {
      const c = await RawClient.connect(a.socket);
      c.send({ type: "sleep-prep", id: 1, params: { drain_timeout_secs: 20 } });
      await waitFor(() => liveWithMarker(MARK).length > 0, 15_000, "the checkpoint command to run");
      c.close();
      await waitFor(() => liveWithMarker(MARK).length === 0, 15_000, "the checkpoint to be killed (disconnect or its 2 s timeout)");
      await waitFor(async () => (await call(a.socket, { type: "status" })).result.plugins.snapshot.busy === null, 30_000, "sleep-prep to finish");
      const w = await call(a.socket, { type: "wake" });
      expect(w.ok).toBe(true);
      expect((await call(a.socket, { type: "status" })).result.state).toBe("running");
      // The lifecycle is usable again: a full sleep-prep/wake cycle (the checkpoint times out, not critical).
      const sp = await call(a.socket, { type: "sleep-prep", params: { drain_timeout_secs: 20 } });
      expect(sp.ok).toBe(true);
      expect(sp.result.ready).toBe(true);
      expect(sp.result.steps.find((s: { name: string }) => s.name === "checkpoint:cp").ok).toBe(false);
      expect((await call(a.socket, { type: "wake" })).result.was_sleeping).toBe(true);
      expect((await call(a.socket, { type: "status" })).result.state).toBe("running");
      await clean(a);
    },
  );
}, 90_000);

test("client gone in the middle of a streaming exec: the command is killed, the agent goes on", async () => {
  await withAgent({}, [], async (a) => {
    for (const params of [
      { command: `while :; do echo tick; sleep 0.05; done # ${MARK}`, stream: true },
      { argv: ["yes", MARK], stream: true },
    ]) {
      const c = await RawClient.connect(a.socket);
      c.send({ type: "exec", id: 1, params });
      const first = (await c.next(30_000)) as any;
      expect(first.event).toBe("stdout");
      expect(liveWithMarker(MARK).length).toBeGreaterThan(0);
      c.close();
      await waitFor(() => liveWithMarker(MARK).length === 0, 15_000, "the streaming command to be killed");
      await waitFor(async () => (await call(a.socket, { type: "status" })).result.plugins.exec.running === 0, 15_000, "exec to count 0 running");
      await clean(a);
    }
    // A later exec answers in full.
    const r = await call(a.socket, { type: "exec", params: { argv: ["echo", "still here"] } });
    expect(r.result.stdout).toBe("still here\n");
  });
}, 90_000);
