// The worker plugin in an agent: loadavg fixtures crossing the threshold on a manual clock, work in flight, wake, config.

import { afterEach, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Type } from "@sinclair/typebox";
import { createAgent, type Agent } from "../../agent/agent.ts";
import { ManualClock } from "../../agent/clock.ts";
import { readAgentFile } from "../../agent/config.ts";
import { ConfigFiles } from "../../agent/config-file.ts";
import { parseFlags } from "../../agent/flags.ts";
import { memoryLogger } from "../../agent/log.ts";
import { agentFileSpec, buildAgent, CORE_FLAGS } from "../../agent/main.ts";
import { defineRequest, type AgentPlugin, type PluginContext } from "../../agent/plugin.ts";
import { tempDir, waitFor } from "../../agent/testing.ts";
import { flagOverrides } from "./config.ts";
import { workerModule, workerPlugin } from "./index.ts";
import type { WorkerConfig, WorkerStatusResult } from "./schemas.ts";

const START = Date.parse("2026-01-01T00:00:00Z");
const iso = (secs: number) => new Date(START + secs * 1000).toISOString();

interface Harness {
  agent: Agent;
  clock: ManualClock;
  log: ReturnType<typeof memoryLogger>;
  root: string;
  loadavg: string;
  ctx: () => PluginContext;
  /** Write the fixture: `setLoad(0.5)` -> "0.5 0.25 0.1 1/100 4242". */
  setLoad(load1: number): void;
  /** Gate of the `t.work` request (marked as work). */
  gate: ReturnType<typeof Promise.withResolvers<void>>;
  status(): Promise<WorkerStatusResult>;
  /** The status section (does not sample). */
  section(): Promise<Record<string, unknown>>;
  lines(re: RegExp): string[];
}

const open: { agent: Agent; cleanup(): void }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.agent.stop({ drainMs: 0 });
    o.cleanup();
  }
});

async function harness(opts: { overrides?: Partial<WorkerConfig>; agentJson?: unknown; load?: number } = {}): Promise<Harness> {
  const t = tempDir("mvm-worker-");
  const loadavg = join(t.path, "loadavg");
  const setLoad = (l: number) => writeFileSync(loadavg, `${l} ${l / 2} ${l / 5} 1/100 4242\n`);
  setLoad(opts.load ?? 0);
  if (opts.agentJson !== undefined) writeFileSync(join(t.path, "agent.json"), JSON.stringify(opts.agentJson));
  const clock = new ManualClock(START);
  const log = memoryLogger();
  let context: PluginContext | undefined;
  const h = { gate: Promise.withResolvers<void>() } as Harness;
  const helper: AgentPlugin = {
    name: "helper",
    start: (c) => void (context = c),
    requests: {
      "t.work": defineRequest({
        params: Type.Object({}),
        result: Type.Object({}),
        work: true,
        handle: async () => {
          await h.gate.promise;
          return {};
        },
      }),
    },
  };
  // agent.json checked as the agent checks it: against the worker module's section and top-level keys.
  const spec = agentFileSpec([workerModule]);
  const files = new ConfigFiles();
  const agent = createAgent({
    plugins: [workerPlugin({ overrides: { loadavg_path: loadavg, ...opts.overrides } }), helper],
    clock,
    log,
    config: { configDir: t.path, file: readAgentFile(t.path, log, files, spec), readFile: () => readAgentFile(t.path, log, files, spec), files },
  });
  open.push({ agent, cleanup: t.cleanup });
  await agent.start();
  return Object.assign(h, {
    agent,
    clock,
    log,
    root: t.path,
    loadavg,
    ctx: () => context!,
    setLoad,
    status: async () => (await agent.call("worker-status")) as WorkerStatusResult,
    section: async () => ((await agent.call("status")) as { plugins: Record<string, Record<string, unknown>> }).plugins.worker!,
    lines: (re: RegExp) => log.lines.filter((l) => re.test(l)),
  });
}

describe("idle and busy from the load average", () => {
  test("defaults: idle at start, busy at load >= 0.1 on the next sample, idle again at once", async () => {
    const h = await harness();
    expect(await h.status()).toEqual({ status: "idle", load1: 0, load5: 0, load15: 0, busy_threshold: 0.1, last_busy_at: null, since: iso(0) });
    h.setLoad(0.1);
    await h.clock.advance(4_999);
    expect(await h.section()).toMatchObject({ status: "idle" });
    await h.clock.advance(1);
    expect(await h.section()).toMatchObject({ status: "busy", load1: 0.1, since: iso(5), last_busy_at: iso(5), sampled_at: iso(5) });
    expect(h.lines(/INFO  worker idle -> busy \(load1 0\.1 >= 0\.1\)$/).length).toBe(1);
    h.setLoad(0.09);
    await h.clock.advance(5_000);
    expect(await h.section()).toMatchObject({ status: "idle", since: iso(10), last_busy_at: iso(5) });
    expect(h.lines(/INFO  worker busy -> idle \(load1 0\.09 < 0\.1, no work in flight\)$/).length).toBe(1);
  });

  test("hysteresis: back to idle only after idle_after_secs below the threshold", async () => {
    const h = await harness({ overrides: { idle_after_secs: 30 }, load: 2 });
    expect((await h.status()).status).toBe("busy");
    expect(h.lines(/INFO  worker busy when load1 >= 0\.1, idle after 30s below it, .*; now busy \(load1 2\)$/).length).toBe(1);
    expect(h.lines(/idle -> busy/).length).toBe(0);
    h.setLoad(0.05);
    await h.clock.advance(5_000); // first quiet sample at 5 s
    await h.clock.advance(25_000); // 30 s: quiet for 25 s
    expect(await h.section()).toMatchObject({ status: "busy", last_busy_at: iso(0), quiet_for_secs: 25 });
    h.setLoad(0.5); // a blip restarts the count
    await h.clock.advance(5_000);
    h.setLoad(0.05);
    await h.clock.advance(5_000); // quiet from 40 s
    await h.clock.advance(25_000); // 65 s
    expect(await h.section()).toMatchObject({ status: "busy", last_busy_at: iso(35) });
    await h.clock.advance(5_000); // 70 s: quiet for 30 s
    expect(await h.section()).toMatchObject({ status: "idle", since: iso(70), last_busy_at: iso(35), quiet_for_secs: null });
    expect(h.lines(/INFO  worker busy -> idle \(load1 0\.05 < 0\.1 for 30s, no work in flight\)/).length).toBe(1);
  });

  test("worker-status samples afresh; a paused schedule (snapshot) samples nothing by itself", async () => {
    const h = await harness();
    await h.agent.scheduler.pauseAll();
    h.setLoad(3);
    await h.clock.advance(60_000);
    expect(await h.section()).toMatchObject({ status: "idle", sampled_at: iso(0) });
    expect(await h.status()).toMatchObject({ status: "busy", load1: 3, since: iso(60) });
  });

  test("an unreadable load file: loads null, one warning, busy only from work; and back", async () => {
    const h = await harness();
    rmSync(h.loadavg);
    await h.clock.advance(5_000);
    await h.clock.advance(5_000);
    expect(await h.status()).toMatchObject({ status: "idle", load1: null, load5: null, load15: null });
    expect(h.lines(/WARN  worker cannot read .*loadavg: ENOENT.*; load reported as null/).length).toBe(1);
    expect(await h.section()).toMatchObject({ read_error: expect.stringContaining("ENOENT") });
    h.setLoad(0.2);
    expect(await h.status()).toMatchObject({ status: "busy", load1: 0.2 });
    expect(h.lines(/loadavg is readable again/).length).toBe(1);
  });
});

describe("work in flight and wake", () => {
  test("a request marked as work keeps the worker busy while it runs", async () => {
    const h = await harness({ overrides: { idle_after_secs: 0 } });
    const call = h.agent.call("t.work");
    await waitFor(() => h.agent.workInFlight() === 1, 10_000, "the work to start");
    expect(await h.status()).toMatchObject({ status: "busy", load1: 0, last_busy_at: iso(0) });
    expect(h.lines(/worker idle -> busy \(1 request\(s\) marked as work in flight\)/).length).toBe(1);
    await h.clock.advance(5_000);
    expect(await h.section()).toMatchObject({ status: "busy", last_busy_at: iso(5), work_in_flight: 1 });
    h.gate.resolve();
    await call;
    await h.clock.advance(5_000);
    expect(await h.section()).toMatchObject({ status: "idle", since: iso(10), work_in_flight: 0 });
  });

  test("plugin work (ctx.beginWork) counts too", async () => {
    const h = await harness();
    const done = h.ctx().beginWork("test");
    expect((await h.status()).status).toBe("busy");
    done();
    expect((await h.status()).status).toBe("idle");
  });

  test("wake resets to a fresh sample: no hysteresis carried over, last_busy_at cleared", async () => {
    const h = await harness({ overrides: { idle_after_secs: 600 }, load: 1 });
    await h.clock.advance(5_000);
    h.setLoad(0);
    await h.clock.advance(5_000);
    expect(await h.section()).toMatchObject({ status: "busy", last_busy_at: iso(5) });
    await h.ctx().emit("wake", { at: h.clock.now(), reason: "wake" });
    expect(await h.section()).toMatchObject({ status: "idle", since: iso(10), last_busy_at: null, sampled_at: iso(10), quiet_for_secs: null });
    expect(h.lines(/INFO  worker wake: reset from a fresh sample: idle \(load1 0\)/).length).toBe(1);
    h.setLoad(0.7);
    await h.ctx().emit("wake", { at: h.clock.now(), reason: "watchdog" });
    expect(await h.section()).toMatchObject({ status: "busy", last_busy_at: iso(10) });
  });
});

describe("settings", () => {
  test("agent.json worker section, and flags win over it", async () => {
    const h = await harness({ agentJson: { worker: { busy_threshold: 2, sample_interval_secs: 10 } }, overrides: { idle_after_secs: 5 }, load: 1.5 });
    expect(await h.section()).toMatchObject({ status: "idle", busy_threshold: 2, sample_interval_secs: 10, idle_after_secs: 5 });
    const w = await harness({ agentJson: { worker: { busy_threshold: 2 } }, overrides: { busy_threshold: 1 }, load: 1.5 });
    expect((await w.status()).status).toBe("busy");
  });

  test("a bad worker section: agent.json is skipped with one line naming the file, the keys and the nearest known key", async () => {
    const h = await harness({ agentJson: { worker: { busy_threshold: -1, idle_after_sec: 3 } } });
    const file = join(h.root, "agent.json");
    const warned = h.lines(new RegExp(`WARN .*${file}: skipped: `));
    expect(warned.length).toBe(1);
    expect(warned[0]).toContain("field worker.idle_after_sec: unknown key (did you mean worker.idle_after_secs?)");
    expect(warned[0]).toContain("field worker.busy_threshold: Too small");
    expect(warned[0]).toEndWith("; every setting at its default");
    expect(await h.section()).toMatchObject({ busy_threshold: 0.1, idle_after_secs: 0, sample_interval_secs: 5 });
    const status = (await h.agent.call("status")) as { config_skipped: { file: string; message: string }[] };
    expect(status.config_skipped).toEqual([{ file, message: expect.stringContaining("worker.idle_after_sec") }]);
  });

  test("x- keys anywhere in agent.json are the users' own", async () => {
    const h = await harness({ agentJson: { "x-owner": "ops", worker: { busy_threshold: 0.7, "x-why": "batch jobs" } } });
    expect(await h.section()).toMatchObject({ busy_threshold: 0.7 });
    expect(h.lines(/skipped/)).toEqual([]);
  });

  test("the original agent's top-level keys are read when there is no worker section", async () => {
    const h = await harness({ agentJson: { busy_threshold: 0.8, sample_interval_secs: 2, port: 52 } });
    expect(await h.section()).toMatchObject({ busy_threshold: 0.8, sample_interval_secs: 2 });
    expect(h.lines(/top-level busy_threshold, sample_interval_secs read as worker settings/).length).toBe(1);
  });

  test("reload (SIGHUP) applies a changed agent.json: threshold and sample interval", async () => {
    const h = await harness({ agentJson: { worker: {} }, load: 0.5 });
    expect((await h.status()).status).toBe("busy");
    writeFileSync(join(h.root, "agent.json"), JSON.stringify({ worker: { busy_threshold: 1, sample_interval_secs: 60 } }));
    await h.agent.reload();
    expect(h.lines(/INFO  worker settings changed: busy_threshold 0\.1 -> 1, sample_interval_secs 5 -> 60/).length).toBe(1);
    expect(await h.section()).toMatchObject({ status: "idle", busy_threshold: 1, sample_interval_secs: 60 });
    h.setLoad(3);
    await h.clock.advance(59_999);
    expect((await h.section()).status).toBe("idle");
    await h.clock.advance(1);
    expect((await h.section()).status).toBe("busy");
    expect(h.agent.scheduler.size).toBe(1);
  });

  test("flags through the agent's own flag parser; a bad flag names itself", async () => {
    const t = tempDir("mvm-worker-flags-");
    try {
      const loadavg = join(t.path, "loadavg");
      writeFileSync(loadavg, "0.4 0.3 0.2 1/1 1\n");
      const specs = { ...CORE_FLAGS, ...workerModule.flags };
      const { values } = parseFlags(["--config-dir", t.path, "--worker-busy-threshold", "0.3", "--worker-idle-after-secs", "20", "--worker-sample-interval-secs", "2", "--loadavg-path", loadavg], specs);
      const log = memoryLogger();
      const { agent } = buildAgent([workerModule], values, "dev", log);
      await agent.start();
      try {
        expect(await agent.call("worker-status")).toMatchObject({ status: "busy", load1: 0.4, busy_threshold: 0.3 });
        expect(log.lines.some((l) => l.includes(`busy when load1 >= 0.3, idle after 20s below it, sampled every 2s from ${loadavg}`))).toBe(true);
      } finally {
        await agent.stop({ drainMs: 0 });
      }
      expect(() => flagOverrides({ "worker-sample-interval-secs": 0 })).toThrow(/^--worker-sample-interval-secs: Too small: expected number to be >=1, got 0$/);
      expect(() => flagOverrides({ "worker-busy-threshold": -0.5 })).toThrow(/^--worker-busy-threshold: /);
      expect(() => flagOverrides({ "loadavg-path": "" })).toThrow(/^--loadavg-path: /);
    } finally {
      t.cleanup();
    }
  });

  test("stop releases the schedule and every timer", async () => {
    const h = await harness();
    expect(h.agent.scheduler.size).toBe(1);
    await h.agent.stop({ drainMs: 0 });
    expect(h.agent.scheduler.size).toBe(0);
    expect(h.clock.pending()).toBe(0);
  });
});
