// bench:health — 200 integrations running `true` every second for 30 s: agent CPU (children excluded)
// and schedule drift p99, each set against a floor measured in the same run (bare Bun.spawn loop).
// usage: bun bench/health.ts [--secs 30] [--floor-secs 10] [--count 200]

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg as osLoadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createAgent } from "../agent/agent.ts";
import { createLogger } from "../agent/log.ts";
import { healthPlugin } from "../plugins/health/health.ts";
import type { HealthResult } from "../plugins/health/schemas.ts";
import { machineLine, numArg, percentile, table, writeResult } from "./lib.ts";

const SECS = numArg("secs", 30);
const FLOOR_SECS = numArg("floor-secs", 10);
const COUNT = numArg("count", 200);
const INTERVAL_MS = 1000;
/** Not measured: the first checks of all integrations start at once, like at boot. */
const WARMUP_MS = 2000;
const CPU_TARGET_PCT = 5;
const DRIFT_TARGET_MS = 50;

const loadavg = () => osLoadavg().map((l) => l.toFixed(1)).join(" ");
const TICK_HZ = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/** This process's own CPU time in ms (utime + stime; children's cutime/cstime excluded). */
function selfCpuMs(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After "pid (comm) ", field 3 (state) is f[0]; utime is field 14 -> f[11], stime field 15 -> f[12].
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICK_HZ;
}

interface Phase {
  cpuPct: number;
  /** CPU µs per check (spawn, pipes, timers, bookkeeping). */
  cpuPerCheckUs: number;
  driftP50: number;
  driftP99: number;
  driftMax: number;
  checks: number;
}

/**
 * A floor: the same number of fixed-delay timers on plain setTimeout, each spawning `true`
 * through /bin/sh with Bun.spawn (no runner, no scheduler, no state). `pipes`: in its own process
 * group with stdout and stderr piped and drained, the least a runner that keeps output must do.
 */
async function floorPhase(pipes: boolean): Promise<Phase> {
  let lateness: number[] = [];
  let checks = 0;
  let stopping = false;
  const loops: Promise<void>[] = [];
  for (let i = 0; i < COUNT; i++) {
    loops.push(
      (async () => {
        // Spread over one interval, as the agent's checks are in steady state (bunched spawns
        // share event-loop wakeups: cheaper in CPU, much worse in drift).
        let delay = (i * INTERVAL_MS) / COUNT;
        while (!stopping) {
          const due = performance.now() + delay;
          await new Promise((r) => setTimeout(r, delay));
          if (stopping) break;
          lateness.push(performance.now() - due);
          if (pipes) {
            const p = Bun.spawn(["/bin/sh", "-c", "true"], { stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true });
            await Promise.all([new Response(p.stdout).arrayBuffer(), new Response(p.stderr).arrayBuffer(), p.exited]);
          } else {
            const p = Bun.spawn(["/bin/sh", "-c", "true"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
            await p.exited;
          }
          checks++;
          delay = INTERVAL_MS;
        }
      })(),
    );
  }
  await Bun.sleep(WARMUP_MS);
  lateness = [];
  const checks0 = checks;
  const t0 = performance.now();
  const cpu0 = selfCpuMs();
  await Bun.sleep(FLOOR_SECS * 1000);
  const cpu = selfCpuMs() - cpu0;
  const wall = performance.now() - t0;
  const measured = lateness.slice();
  stopping = true;
  await Promise.all(loops);
  return summary(cpu, wall, measured, checks - checks0);
}

/** The agent: the health plugin with COUNT integration files, on the system clock. */
async function agentPhase(): Promise<Phase & { ready: boolean }> {
  const dir = mkdtempSync(join(tmpdir(), "bench-health-"));
  const idir = join(dir, "integrations.d");
  mkdirSync(idir);
  for (let i = 0; i < COUNT; i++) {
    const name = `svc-${String(i).padStart(3, "0")}`;
    writeFileSync(join(idir, `${name}.json`), JSON.stringify({ name, health_cmd: "true", health_interval_secs: INTERVAL_MS / 1000 }));
  }
  const lines: string[] = [];
  const agent = createAgent({
    plugins: [healthPlugin({ configDir: dir })],
    config: { configDir: dir },
    log: createLogger({ sink: (l) => lines.push(l) }),
  });
  agent.scheduler.recordLateness = true;
  await agent.start();
  await Bun.sleep(WARMUP_MS);
  const stats = agent.scheduler.stats;
  stats.lateness.length = 0;
  const runs0 = stats.runs;
  const t0 = performance.now();
  const cpu0 = selfCpuMs();
  await Bun.sleep(SECS * 1000);
  const cpu = selfCpuMs() - cpu0;
  const wall = performance.now() - t0;
  const lateness = stats.lateness.slice();
  const checks = stats.runs - runs0;
  const h = (await agent.call("health")) as HealthResult;
  await agent.stop({ drainMs: 1000 });
  rmSync(dir, { recursive: true, force: true });
  const errors = lines.filter((l) => / (WARN|ERROR) /.test(l));
  if (errors.length) console.error(`agent warnings:\n${errors.slice(0, 5).join("\n")}`);
  return { ...summary(cpu, wall, lateness, checks), ready: h.ready };
}

function summary(cpuMs: number, wallMs: number, lateness: number[], checks: number): Phase {
  return {
    cpuPct: (cpuMs / wallMs) * 100,
    cpuPerCheckUs: checks > 0 ? (cpuMs * 1000) / checks : NaN,
    driftP50: percentile(lateness, 50),
    driftP99: percentile(lateness, 99),
    driftMax: Math.max(...lateness),
    checks,
  };
}

const floor = await floorPhase(false);
const piped = await floorPhase(true);
const agent = await agentPhase();
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}x` : "n/a");
const verdict = (ok: boolean) => (ok ? "pass" : "FAIL");

const row = (figure: string, a: number, f: number, p: number, target: string, ok?: boolean): (string | number)[] => [
  figure,
  a.toFixed(2),
  f.toFixed(2),
  ratio(a, f),
  p.toFixed(2),
  ratio(a, p),
  target,
  ok === undefined ? "" : verdict(ok),
];

const md = [
  "## bench:health — scheduled health checks",
  "",
  `Measured ${machineLine()}, load average ${loadavg()} at the end. ${COUNT} integrations running \`true\` every ` +
    `${INTERVAL_MS / 1000} s for ${SECS} s (--max-concurrent-checks 8), in one process. Two floors measured in the same ` +
    `run for ${FLOOR_SECS} s each: ${COUNT} plain setTimeout loops spawning \`/bin/sh -c true\` with Bun.spawn, ` +
    "spread evenly over the interval like the agent's checks, (A) with no pipes, and (B) in its own process group with stdout and stderr piped and drained (what any runner " +
    `that keeps output must do). All three start with ${WARMUP_MS / 1000} s not measured (every first check at once, as ` +
    "at boot). CPU is utime+stime of /proc/self/stat (children excluded) over wall time, in % of one core. Drift is " +
    "how late timed runs started (the scheduler's lateness stats; for the floors, setTimeout lateness). " +
    "Reproduce: `bun run bench:health` (`--secs`, `--floor-secs`, `--count` to vary).",
  "",
  table(
    ["figure", "agent", "floor A: spawn", "agent / A", "floor B: spawn + pipes", "agent / B", "target", "verdict"],
    [
      row("CPU, % of one core", agent.cpuPct, floor.cpuPct, piped.cpuPct, `< ${CPU_TARGET_PCT}`, agent.cpuPct < CPU_TARGET_PCT),
      row("CPU per check, µs", agent.cpuPerCheckUs, floor.cpuPerCheckUs, piped.cpuPerCheckUs, `< ${(CPU_TARGET_PCT * 10_000) / COUNT}`),
      row("drift p99, ms", agent.driftP99, floor.driftP99, piped.driftP99, `< ${DRIFT_TARGET_MS}`, agent.driftP99 < DRIFT_TARGET_MS),
      row("drift p50, ms", agent.driftP50, floor.driftP50, piped.driftP50, ""),
      row("drift max, ms", agent.driftMax, floor.driftMax, piped.driftMax, ""),
      row("checks per second", agent.checks / SECS, floor.checks / FLOOR_SECS, piped.checks / FLOOR_SECS, `~${COUNT}`),
    ],
  ),
  "",
  `All integrations ready at the end: ${agent.ready}.`,
].join("\n");

writeResult("health", md);
