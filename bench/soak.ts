// bench:soak — an agent process with 50 integrations and 20 probes under mixed traffic for N minutes,
// sampling RSS and open fds over time; the floor is the agent's own RSS/fds after the first sample.
// usage: bun bench/soak.ts [--minutes 10] [--rate 100]   (rate: requests per second over all clients)

import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RawClient } from "../agent/testing.ts";
import { spawnAgent } from "../test/support/index.ts";
import { machineLine, numArg, table, weightedPick, writeResult } from "./lib.ts";
import { anonMb } from "./mem.ts";

const MINUTES = numArg("minutes", 10);
const RATE = numArg("rate", 100);
const CLIENTS = 8;
const INTEGRATIONS = 50;
const PROBES = 20;
const SAMPLES = 20;

const dir = join(tmpdir(), `bench-soak-${process.pid}`);
const cfg = join(dir, "config");
mkdirSync(join(cfg, "integrations.d"), { recursive: true });
mkdirSync(join(cfg, "probes.d"), { recursive: true });
for (let i = 0; i < INTEGRATIONS; i++)
  writeFileSync(
    join(cfg, "integrations.d", `svc${i}.json`),
    JSON.stringify({ name: `svc${i}`, health_cmd: i % 10 === 9 ? "exit 1" : "true", health_interval_secs: 5 + (i % 10), health_timeout_secs: 5, checkpoint_cmd: "true" }),
  );
for (let i = 0; i < PROBES; i++)
  writeFileSync(
    join(cfg, "probes.d", `p${i}.json`),
    JSON.stringify({ name: `p${i}`, command: i % 2 ? `echo ${i}` : "cut -d' ' -f1 /proc/loadavg", interval_secs: 10 + (i % 5), output_format: "number" }),
  );

const agent = await spawnAgent({ configDir: cfg, args: ["--log-level", "warn"] });
const sock = agent.socket;

const rssMb = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${agent.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
const fdCount = () => readdirSync(`/proc/${agent.pid}/fd`).length;


/** The mix: [weight, request]. */
const MIX: [number, () => Record<string, unknown>][] = [
  [30, () => ({ type: "ping" })],
  [15, () => ({ type: "status" })],
  [15, () => ({ type: "health" })],
  [10, () => ({ type: "probes" })],
  [10, () => ({ type: "worker-status" })],
  [5, () => ({ type: "health-check", params: { name: `svc${Math.floor(Math.random() * INTEGRATIONS)}` } })],
  [5, () => ({ type: "probe-run", params: { name: `p${Math.floor(Math.random() * PROBES)}` } })],
  [5, () => ({ type: "exec", params: { argv: ["echo", "soak"] } })],
  [3, () => ({ type: "fs-diff" })],
  [2, () => ({ type: "hello" })],
];
const pick = weightedPick(MIX);

let served = 0;
let unexpected = 0;
const firstErrors: string[] = [];
let running = true;
const endAt = Date.now() + MINUTES * 60_000;

async function client(k: number): Promise<void> {
  let c = await RawClient.connect(sock);
  let n = 0;
  const gapMs = (1000 * CLIENTS) / RATE;
  let next = Date.now();
  while (running) {
    const body = pick();
    const a = (await c.request({ ...body, id: ++n })) as any;
    served++;
    // Expected failures: fs-diff without an overlay (E_UNAVAILABLE); anything else is counted.
    if (!a || (a.ok !== true && a.error?.code !== "E_UNAVAILABLE")) {
      unexpected++;
      if (firstErrors.length < 5) firstErrors.push(`${body.type}: ${JSON.stringify(a).slice(0, 200)}`);
    }
    // Every 200 requests a client reconnects, so connection setup and teardown are soaked too.
    if (n % 200 === 0) {
      c.close();
      c = await RawClient.connect(sock);
    }
    next += gapMs;
    const wait = next - Date.now();
    if (wait > 0) await Bun.sleep(wait); // pacing to the target rate
    else next = Date.now();
  }
  c.close();
  void k;
}

const samples: { min: number; rss: number; anon: number; fds: number; served: number }[] = [];
const t0 = Date.now();
const clients = Array.from({ length: CLIENTS }, (_, k) => client(k));
const every = (MINUTES * 60_000) / SAMPLES;
for (let i = 1; i <= SAMPLES; i++) {
  await Bun.sleep(Math.max(0, t0 + i * every - Date.now()));
  samples.push({ min: (Date.now() - t0) / 60_000, rss: rssMb(), anon: anonMb(agent.pid), fds: fdCount(), served });
  if (agent.exitCode() !== null) break;
}
running = false;
await Promise.all(clients);
const alive = agent.exitCode() === null;
await agent.stop();
rmSync(dir, { recursive: true, force: true });
void endAt;

const base = samples[0]!;
const last = samples.at(-1)!;
const peak = Math.max(...samples.map((s) => s.rss));
const rows = samples.map((s, i) => [s.min.toFixed(MINUTES < 5 ? 2 : 1), s.rss, s.anon, s.fds, s.served, i ? Math.round((s.served - samples[i - 1]!.served) / ((s.min - samples[i - 1]!.min) * 60)) : Math.round(s.served / (s.min * 60))]);
const md = [
  "## bench:soak — mixed traffic over time",
  "",
  `Measured ${machineLine()}. One agent process from source (dev: every plugin) with ${INTEGRATIONS} integrations (checks every 5-14 s, one in ten failing) and ${PROBES} probes (every 10-14 s); ` +
    `${CLIENTS} clients at ${RATE} requests/s in all for ${MINUTES} min (ping, status, health, probes, worker-status, health-check, probe-run, exec, fs-diff, hello), each reconnecting every 200 requests. ` +
    `The floor is the agent's own first sample. Reproduce: \`bun run bench:soak\` (\`-- --minutes 2\` for a short run).`,
  "",
  table(["minute", "RSS MB", "anonymous MB", "open fds", "requests served", "req/s"], rows),
  "",
  table(
    ["figure", "end", "floor (first sample)", "ratio", "target", "verdict"],
    [
      ["RSS MB", last.rss, base.rss, (last.rss / base.rss).toFixed(2) + "x", "<= 1.20x", last.rss <= base.rss * 1.2 ? "PASS" : "FAIL"],
      ["anonymous MB", last.anon, base.anon, (last.anon / base.anon).toFixed(2) + "x", "<= 1.20x", last.anon <= base.anon * 1.2 ? "PASS" : "FAIL"],
      ["peak RSS MB", peak, base.rss, (peak / base.rss).toFixed(2) + "x", "(reference)", ""],
      ["open fds", last.fds, base.fds, (last.fds / base.fds).toFixed(2) + "x", "<= 1.00x (+ the clients' own)", last.fds <= base.fds + CLIENTS ? "PASS" : "FAIL"],
      ["unexpected answers", unexpected, 0, "", "0", unexpected === 0 ? "PASS" : "FAIL"],
      ["agent alive at the end", alive ? "yes" : "no", "yes", "", "yes", alive ? "PASS" : "FAIL"],
    ],
  ),
  ...(firstErrors.length ? ["", "First unexpected answers:", "", ...firstErrors.map((e) => `- \`${e}\``)] : []),
  "",
].join("\n");
writeResult("soak", md);
if (!alive || unexpected > 0) process.exit(1);
