// bench:snapshot — sleep-prep latency with 0 and 20 integrations (checkpoint `true`), against a bare
// sync + drop-caches floor measured in the same run, interleaved. Target: overhead over the floor < 20 ms.
// usage: bun bench/snapshot.ts [--iterations 30] [--drop-caches-path PATH]

import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAgent, type Agent } from "../agent/agent.ts";
import { createLogger } from "../agent/log.ts";
import type { AgentPlugin } from "../agent/plugin.ts";
import type { IntegrationSpec } from "../plugins/health/service.ts";
import type { SleepPrepResult } from "../plugins/snapshot/schemas.ts";
import { snapshotPlugin } from "../plugins/snapshot/snapshot.ts";
import { DEFAULT_DROP_CACHES_PATH, loadLibc } from "../plugins/snapshot/sys.ts";
import { machineLine, percentile, table, writeResult } from "./lib.ts";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

const ITERATIONS = Number(arg("iterations") ?? 30);
if (!Number.isInteger(ITERATIONS) || ITERATIONS < 1) throw new Error(`--iterations: expected a whole number >= 1`);
const TARGET_MS = 20;
const scratch = mkdtempSync(join(tmpdir(), "bench-snapshot-"));

/** The real drop_caches when we may write it, else a file in a temp dir (said in the output). */
function dropCachesPath(): { path: string; real: boolean } {
  const given = arg("drop-caches-path");
  if (given) return { path: given, real: given === DEFAULT_DROP_CACHES_PATH };
  try {
    accessSync(DEFAULT_DROP_CACHES_PATH, constants.W_OK);
    return { path: DEFAULT_DROP_CACHES_PATH, real: true };
  } catch {
    return { path: join(scratch, "drop_caches"), real: false };
  }
}

const drop = dropCachesPath();
const libc = loadLibc();
if (!libc) throw new Error("no libc through bun:ffi: this benchmark measures the ffi sync path");

/** The floor: what sleep-prep cannot avoid doing. */
async function bareSyncAndDrop(): Promise<number> {
  const t0 = performance.now();
  libc!.sync();
  await writeFile(drop.path, "3");
  return performance.now() - t0;
}

/** A second floor for the 20-integration case: the same sync + drop plus 20 bare concurrent `sh -c true`. */
async function bareWithSpawns(n: number): Promise<number> {
  const t0 = performance.now();
  await Promise.all(Array.from({ length: n }, () => Bun.spawn(["/bin/sh", "-c", "true"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" }).exited));
  libc!.sync();
  await writeFile(drop.path, "3");
  return performance.now() - t0;
}

function integrations(n: number): IntegrationSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `svc-${i}`,
    health_interval_secs: 30,
    health_timeout_secs: 10,
    startup_grace_secs: 0,
    failure_threshold: 1,
    success_threshold: 1,
    checkpoint_cmd: "true",
    checkpoint_timeout_secs: 30,
    critical: true,
  }));
}

/** An agent with `n` integrations and a few idle schedules (what sleep-prep pauses). */
async function agentWith(n: number): Promise<Agent> {
  const list = integrations(n);
  const fake: AgentPlugin = {
    name: "bench-integrations",
    start(ctx) {
      ctx.provide("integrations", { list: () => list });
      for (let i = 0; i < 5; i++) ctx.every(60_000, () => {}, { name: `idle-${i}`, runNow: false });
    },
  };
  const agent = createAgent({ plugins: [fake, snapshotPlugin({ dropCachesPath: drop.path, resumeAfterSecs: 600 })], log: createLogger({ level: "error" }) });
  await agent.start();
  return agent;
}

async function sleepPrepMs(agent: Agent): Promise<number> {
  const t0 = performance.now();
  const r = (await agent.call("sleep-prep", { drain_timeout_secs: 30 })) as SleepPrepResult;
  const ms = performance.now() - t0;
  if (!r.ready || r.steps.some((s) => !s.ok && s.name !== "drop-caches")) throw new Error(`sleep-prep not ready: ${JSON.stringify(r.steps)}`);
  await agent.call("wake");
  return ms;
}

const agents = { 0: await agentWith(0), 20: await agentWith(20) };
const floor: number[] = [];
const with0: number[] = [];
const with20: number[] = [];
const floor20: number[] = [];
// Warm up every path once (JIT, first spawn), then interleave so the machine's noise hits all three alike.
await bareSyncAndDrop();
await bareWithSpawns(20);
await sleepPrepMs(agents[0]);
await sleepPrepMs(agents[20]);
for (let i = 0; i < ITERATIONS; i++) {
  floor.push(await bareSyncAndDrop());
  with0.push(await sleepPrepMs(agents[0]));
  with20.push(await sleepPrepMs(agents[20]));
  floor20.push(await bareWithSpawns(20));
}
await agents[0].stop();
await agents[20].stop();
rmSync(scratch, { recursive: true, force: true });

const row = (label: string, xs: number[], fl: number[], flLabel: string) => {
  const m = percentile(xs, 50);
  const f = percentile(fl, 50);
  const over = m - f;
  return [label, m, percentile(xs, 95), flLabel, f, m / f, over, over < TARGET_MS ? "ok" : "OVER"];
};
const md = [
  "## bench:snapshot",
  "",
  `${machineLine()}; ${ITERATIONS} interleaved iterations; drop caches: ${drop.real ? drop.path : `${drop.path} (not root: a temp file stands in)`}.`,
  "",
  table(
    ["figure", "median ms", "p95 ms", "floor", "floor median ms", "ratio", "overhead ms", `overhead < ${TARGET_MS} ms`],
    [
      row("sleep-prep, 0 integrations", with0, floor, "bare sync + drop-caches"),
      row("sleep-prep, 20 integrations (checkpoint `true`)", with20, floor, "bare sync + drop-caches"),
      row("sleep-prep, 20 integrations (checkpoint `true`)", with20, floor20, "20 bare `sh -c true` + sync + drop-caches"),
    ],
  ),
  "",
  `Floor p95: ${percentile(floor, 95).toFixed(2)} ms (with 20 spawns: ${percentile(floor20, 95).toFixed(2)} ms). Each sleep-prep is followed by an unmeasured wake.`,
  "The last row separates the cost of starting 20 processes (which any agent running 20 checkpoint commands pays) from the plugin's own work.",
].join("\n");
writeResult("snapshot", md);
