// bench:footprint — the compiled prod agent's memory: idle (RSS, anonymous, time to ready) beside the compiled Bun
// echo floor; anonymous memory after 100 000 mixed requests and after N minutes with 50 integrations, against its
// own idle; before and after sleep-prep; and the binary's size as an image ships it (zstd -19, squashfs).
// usage: bun bench/footprint.ts [--runs N] [--requests N] [--minutes N]   (defaults 7, 100000, 10)

import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RawClient } from "../agent/testing.ts";
import { agentBinaries, request, spawnAgent, type SpawnedAgent } from "../test/support/index.ts";
import { compileC, machineLine, numArg, percentile, root, table, weightedPick, writeResult } from "./lib.ts";
import { anonMb, idleRss, readyAndIdle, rssMb } from "./mem.ts";

const RUNS = numArg("runs", 7);
const REQUESTS = numArg("requests", 100_000);
const MINUTES = numArg("minutes", 10);
const INTEGRATIONS = 50;
const CLIENTS = 8;

const dir = mkdtempSync(join(tmpdir(), "bench-footprint-"));
const client = compileC("rpcclient", dir);
const bins = await agentBinaries();
const echo = join(dir, "echo-bun");
const built = Bun.spawnSync([process.execPath, "build", "--compile", join(root, "bench/echo-bun.ts"), "--outfile", echo], { stdout: "pipe", stderr: "pipe" });
if (built.exitCode !== 0) throw new Error(`bun build --compile echo-bun failed: ${built.stderr.toString()}`);

const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");
const mb = (n: number) => Number(n.toFixed(2));

// ---- 1. idle, beside the floor ----
const subjects: [string, (s: string) => string[]][] = [
  ["compiled Bun.listen echo (runtime floor)", (s) => [echo, s]],
  ["mvm-guest-agent (prod)", (s) => [bins.prod, "--listen", `unix:${s}`, "--config-dir", join(dir, "etc"), "--log-level", "warn"]],
];
const idle = new Map(subjects.map(([n]) => [n, { ms: [] as number[], rss: [] as number[], anon: [] as number[] }]));
for (const [, argv] of subjects) await readyAndIdle(argv, dir, client, "warm");
for (let i = 0; i < RUNS; i++)
  for (const [name, argv] of subjects) {
    const r = await readyAndIdle(argv, dir, client, i);
    idle.get(name)!.ms.push(r.ms);
    idle.get(name)!.rss.push(r.rss);
    idle.get(name)!.anon.push(r.anon);
  }
const med = (name: string) => {
  const s = idle.get(name)!;
  return { ms: percentile(s.ms, 50), rss: percentile(s.rss, 50), anon: percentile(s.anon, 50) };
};
const floor = med(subjects[0]![0]);
const prod = med(subjects[1]![0]);

// ---- 2. 100 000 mixed requests, then sleep-prep ----
/** The mix (prod build: no exec): [weight, request, answers that count as expected]. */
const MIX: [number, () => Record<string, unknown>][] = [
  [30, () => ({ type: "ping" })],
  [15, () => ({ type: "status" })],
  [15, () => ({ type: "health" })],
  [10, () => ({ type: "probes" })],
  [10, () => ({ type: "worker-status" })],
  [8, () => ({ type: "hello" })],
  [5, () => ({ type: "describe" })],
  [4, () => ({ type: "fs-diff" })],
  [3, () => ({ type: "ping", params: { unexpected: true } })], // E_INVALID_PARAMS: the error path
];
const EXPECTED_ERRORS = new Set(["E_UNAVAILABLE", "E_INVALID_PARAMS", "E_UNKNOWN_REQUEST"]);
const pick = weightedPick(MIX);

interface Traffic {
  served: number;
  unexpected: string[];
}

/** Requests from CLIENTS connections, each reconnecting every 500, until `more()` says stop; `gapMs` paces each client. */
async function traffic(sock: string, more: (served: number) => boolean, gapMs = 0): Promise<Traffic> {
  const t: Traffic = { served: 0, unexpected: [] };
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      let c = await RawClient.connect(sock);
      let n = 0;
      while (more(t.served)) {
        const body = pick();
        const a = await request(c, body);
        t.served++;
        if (a.ok !== true && !EXPECTED_ERRORS.has(a.error?.code)) t.unexpected.push(`${body.type}: ${JSON.stringify(a).slice(0, 160)}`);
        if (++n % 500 === 0) {
          c.close();
          c = await RawClient.connect(sock);
        }
        if (gapMs) await Bun.sleep(gapMs);
      }
      c.close();
    }),
  );
  return t;
}

/** Anonymous MB once it stops moving (three samples 200 ms apart within 2 %, at most 5 s), as idleRss does for RSS. */
async function settledAnon(pid: number): Promise<number> {
  await idleRss(pid);
  return anonMb(pid);
}

const loaded = await spawnAgent({ bin: bins.prod, args: ["--log-level", "warn"] });
const loadIdle = { rss: await idleRss(loaded.pid), anon: await settledAnon(loaded.pid) };
const t0 = performance.now();
const load = await traffic(loaded.socket, (n) => n < REQUESTS);
const loadSecs = (performance.now() - t0) / 1000;
const afterLoad = { rss: rssMb(loaded.pid), anon: anonMb(loaded.pid) };
const settled = { rss: await idleRss(loaded.pid), anon: await settledAnon(loaded.pid) };
const prep = await once(loaded, { type: "sleep-prep", params: { drain_timeout_secs: 30 } });
const afterPrep = anonMb(loaded.pid);
const wake = await once(loaded, { type: "wake" });
const loadedAlive = loaded.exitCode() === null;
await loaded.stop();

async function once(a: SpawnedAgent, body: Record<string, unknown>): Promise<any> {
  const c = await a.connect();
  try {
    const r = await request(c, body, 60_000);
    if (r.ok !== true) throw new Error(`${body.type}: ${JSON.stringify(r)}`);
    return r.result;
  } finally {
    c.close();
  }
}

// ---- 3. 50 integrations for MINUTES, 100 requests/s ----
const files: Record<string, unknown> = {};
for (let i = 0; i < INTEGRATIONS; i++)
  files[`integrations.d/svc${i}.json`] = { name: `svc${i}`, health_cmd: i % 10 === 9 ? "exit 1" : "true", health_interval_secs: 5 + (i % 10), health_timeout_secs: 5, checkpoint_cmd: "true" };
const soak = await spawnAgent({ bin: bins.prod, files, args: ["--log-level", "warn"] });
const soakIdle = { rss: await idleRss(soak.pid), anon: await settledAnon(soak.pid) };
const soakSamples: { min: number; anon: number; rss: number }[] = [];
const soakStart = Date.now();
const soakEnd = soakStart + MINUTES * 60_000;
const sampler = (async () => {
  const every = (MINUTES * 60_000) / 10;
  for (let i = 1; i <= 10; i++) {
    await Bun.sleep(Math.max(0, soakStart + i * every - Date.now()));
    if (soak.exitCode() !== null) break;
    soakSamples.push({ min: (Date.now() - soakStart) / 60_000, anon: anonMb(soak.pid), rss: rssMb(soak.pid) });
  }
})();
const soakTraffic = await traffic(soak.socket, () => Date.now() < soakEnd, (1000 * CLIENTS) / 100);
await sampler;
const soakEndAnon = await settledAnon(soak.pid);
const soakAlive = soak.exitCode() === null;
await soak.stop();

// ---- 4. sizes as an image ships them ----
function sizes(file: string): { raw: number; zstd: number | null; squashfs: number | null } {
  const raw = statSync(file).size / 1e6;
  const z = join(dir, "x.zst");
  const zs = Bun.spawnSync(["zstd", "-19", "-T0", "-q", "-f", file, "-o", z], { stdout: "pipe", stderr: "pipe" });
  const zstd = zs.exitCode === 0 ? statSync(z).size / 1e6 : null;
  rmSync(z, { force: true });
  const sq = join(dir, "x.squashfs");
  const ss = Bun.spawnSync(["mksquashfs", file, sq, "-comp", "zstd", "-noappend", "-quiet", "-no-progress"], { stdout: "pipe", stderr: "pipe" });
  const squashfs = ss.exitCode === 0 ? statSync(sq).size / 1e6 : null;
  rmSync(sq, { force: true });
  return { raw, zstd, squashfs };
}
const sizeProd = sizes(bins.prod);
const sizeEcho = sizes(echo);
rmSync(dir, { recursive: true, force: true });

// ---- the report ----
const unexpected = [...load.unexpected, ...soakTraffic.unexpected];
const mem = prep.memory ?? { anonymous_kb_before: null, anonymous_kb_after: null };
const kbMb = (kb: number | null) => (kb === null ? "n/a" : mb(kb / 1024));
const within = (v: number, base: number) => v <= base * 1.2;
const fmt = (v: number | null) => (v === null ? "n/a (tool missing)" : mb(v));
const md = [
  "## bench:footprint — the compiled prod agent's memory, idle, under load and before a snapshot",
  "",
  `Measured ${machineLine()}. The prod binary built by scripts/build.ts from the current sources (test/support/binaries.ts); the floor is bench/echo-bun.ts compiled with \`bun build --compile\`, measured in the same run. ` +
    `"Anonymous" is smaps_rollup's Anonymous: (heap, stacks), the rest of RSS being file-backed pages of the binary. Reproduce: \`bun run bench:footprint\` ` +
    `(this run: --runs ${RUNS} --requests ${REQUESTS} --minutes ${MINUTES}).`,
  "",
  `### Idle (empty config dir; median of ${RUNS} interleaved runs)`,
  "",
  table(
    ["figure", "prod agent", "Bun echo floor", "ratio", "target", "verdict"],
    [
      ["idle RSS, MB", mb(prod.rss), mb(floor.rss), ratio(prod.rss, floor.rss), "<= 1.30x", verdict(prod.rss <= floor.rss * 1.3)],
      ["idle anonymous, MB", mb(prod.anon), mb(floor.anon), ratio(prod.anon, floor.anon), "<= 2.50x", verdict(prod.anon <= floor.anon * 2.5)],
      ["file-backed (RSS - anonymous), MB", mb(prod.rss - prod.anon), mb(floor.rss - floor.anon), ratio(prod.rss - prod.anon, floor.rss - floor.anon), "(reference)", ""],
      ["time to ready, ms", mb(prod.ms), mb(floor.ms), ratio(prod.ms, floor.ms), "<= 3.00x", verdict(prod.ms <= floor.ms * 3)],
    ],
  ),
  "",
  `### Under load: ${REQUESTS} mixed requests (ping, status, health, probes, worker-status, hello, describe, fs-diff, invalid params) from ${CLIENTS} connections, empty config dir`,
  "",
  table(
    ["figure", "anonymous MB", "RSS MB", "anonymous / idle", "target", "verdict"],
    [
      ["idle, before the requests", mb(loadIdle.anon), mb(loadIdle.rss), "1.00x", "", ""],
      [`right after the last request (${Math.round(REQUESTS / loadSecs)} req/s)`, mb(afterLoad.anon), mb(afterLoad.rss), ratio(afterLoad.anon, loadIdle.anon), "(reference)", ""],
      ["settled after the requests", mb(settled.anon), mb(settled.rss), ratio(settled.anon, loadIdle.anon), "<= 1.20x", verdict(within(settled.anon, loadIdle.anon))],
    ],
  ),
  "",
  "### Before a snapshot: sleep-prep after that load (its last step is a full GC; the answer's `memory` field)",
  "",
  table(
    ["figure", "anonymous MB", "anonymous / idle"],
    [
      ["when sleep-prep began (the agent's own reading)", kbMb(mem.anonymous_kb_before), mem.anonymous_kb_before === null ? "" : ratio(mem.anonymous_kb_before / 1024, loadIdle.anon)],
      ["after its gc step (the agent's own reading)", kbMb(mem.anonymous_kb_after), mem.anonymous_kb_after === null ? "" : ratio(mem.anonymous_kb_after / 1024, loadIdle.anon)],
      ["after the answer (smaps_rollup, read by the bench)", mb(afterPrep), ratio(afterPrep, loadIdle.anon)],
    ],
  ),
  "",
  `gc step: \`${prep.steps.find((s: { name: string }) => s.name === "gc")?.detail ?? "missing"}\` in ${prep.steps.find((s: { name: string }) => s.name === "gc")?.duration_ms ?? "?"} ms; sleep-prep ready: ${prep.ready}; wake was_sleeping: ${wake.was_sleeping}.`,
  "",
  `### ${INTEGRATIONS} integrations (checks every 5-14 s, one in ten failing) for ${MINUTES} min, ${CLIENTS} clients at 100 requests/s in all`,
  "",
  table(["minute", "anonymous MB", "RSS MB"], [[0, mb(soakIdle.anon), mb(soakIdle.rss)], ...soakSamples.map((s) => [s.min.toFixed(1), mb(s.anon), mb(s.rss)])]),
  "",
  table(
    ["figure", "anonymous MB", "vs its idle (minute 0)", "vs the empty-config idle", "target", "verdict"],
    [
      [`settled at the end (${soakTraffic.served} requests served)`, mb(soakEndAnon), ratio(soakEndAnon, soakIdle.anon), ratio(soakEndAnon, loadIdle.anon), "<= 1.20x its idle", verdict(within(soakEndAnon, soakIdle.anon))],
      ["peak of the samples", mb(Math.max(soakIdle.anon, ...soakSamples.map((s) => s.anon))), ratio(Math.max(soakIdle.anon, ...soakSamples.map((s) => s.anon)), soakIdle.anon), "", "(reference)", ""],
    ],
  ),
  "",
  "### Size as an image ships it",
  "",
  table(
    ["binary", "raw MB", "zstd -19 MB", "squashfs (zstd) MB"],
    [
      ["mvm-guest-agent (prod)", mb(sizeProd.raw), fmt(sizeProd.zstd), fmt(sizeProd.squashfs)],
      ["compiled Bun echo (floor)", mb(sizeEcho.raw), fmt(sizeEcho.zstd), fmt(sizeEcho.squashfs)],
    ],
  ),
  "",
  table(
    ["check", "value", "target", "verdict"],
    [
      ["unexpected answers", unexpected.length, "0", verdict(unexpected.length === 0)],
      ["agents alive at the end", loadedAlive && soakAlive ? "yes" : "no", "yes", verdict(loadedAlive && soakAlive)],
    ],
  ),
  ...(unexpected.length ? ["", "First unexpected answers:", "", ...unexpected.slice(0, 5).map((e) => `- \`${e}\``)] : []),
  "",
  WHAT_WAS_TRIED(),
  "",
].join("\n");
writeResult("footprint", md);
if (!loadedAlive || !soakAlive || unexpected.length > 0) process.exit(1);

/** What was tried on the way (figures from the runs named in each commit; not re-measured by this bench). */
function WHAT_WAS_TRIED(): string {
  return [
    "### What was tried (idle anonymous memory of the compiled prod binary, empty config dir; each row's before/after measured in one run beside the Bun echo floor at 1.75 MB)",
    "",
    table(
      ["change", "anonymous MB", "RSS MB", "kept"],
      [
        ["start (main before this work)", "9.93", "46.5", ""],
        ["zod on first use (agent/lazy-zod.ts, an ES-module shim naming the builders used)", "9.93 -> 9.13", "46.5 -> 45.1", "yes"],
        ["  the same through require(\"zod\"): zod's CJS build, every locale (bundle 549 -> 1125 KB)", "9.81 -> 11.18", "51.3 -> 53.1", "no"],
        ["build-time TypeBox checkers (scripts/checkers.ts): no TypeCompiler in the binary", "9.13 -> 7.93", "52.1 -> 49.3", "yes"],
        ["Bun.gc(true) once serving (agent/main.ts)", "7.85 -> 7.54", "49.0 -> 48.9", "yes"],
        ["bun --smol (--compile-exec-argv)", "7.92 -> 7.57", "48.9 -> 49.0", "yes"],
        ["--minify-identifiers", "7.92 -> 7.87", "48.9 -> 48.9", "no (noise; binary -0.2 MB)"],
        ["TypeBox's Errors and Hash required on first use (only a failing value needs them)", "6.61 -> 6.77", "45.2 -> 45.0", "no (binary +0.2 MB: the lazy module keeps whole namespaces)"],
        ["JIT tier-up thresholds x100 at boot (--compile-jit-policy=100), x1 once serving", "7.15 -> 6.64", "48.6 -> 45.1", "yes (ready 104 -> 109 ms)"],
        ["  x100 kept while serving: anonymous after 24k mixed requests", "15.8 -> 13.7", "", "no: ping -7 to -10 % ops/s (C client)"],
        ["  no JIT at all (BUN_JSC_useJIT=0): idle, and after 24k mixed requests", "5.9, 6.7 (vs 7.6, 15.0)", "", "no: ~-20 % requests/s (JS client)"],
        ["bun:ffi dlopen of libc at start (fsdiff's xattr probe), measured on the echo floor", "1.88 -> 1.90", "29.1 -> 30.7", "(not in this scope: plugins/fsdiff)"],
        ["JSC without FTL (BUN_JSC_useFTLJIT=0; a compiled binary cannot set it): anonymous after 110k pings (C client)", "15.9 -> 14.7", "", "no: env only; ops/s 31.2k -> 33.6k (noise)"],
        ["  without DFG (BUN_JSC_useDFGJIT=0)", "15.9 -> 14.1", "", "no: ops/s 31.2k -> 27.9k"],
        ["  without any JIT (BUN_JSC_useJIT=0)", "15.9 -> 6.6", "", "no: ops/s 31.2k -> 17.0k, and bun:ffi (libc sync, xattr, clock) fails to load"],
      ],
    ),
    "",
    "Under load the growth is JavaScriptCore's JIT at work (compiled code and its metadata: with no JIT the same 24k requests add 0.8 MB), not garbage: the full GC of sleep-prep frees little of it. " +
      "The file-backed part of RSS (the binary's pages: about 30 MB of Bun's own code touched, 3.9 MB of embedded bundle and bytecode, against the echo's ~25 MB) is what keeps RSS above 1.3x; anonymous memory follows the bundle's size (zod's CJS build grew both by the same 1.4 MB).",
    "",
    "### What was tried for throughput (bench:rpc) and fs-diff (bench:fsdiff); figures from same-run comparisons named in each commit",
    "",
    table(
      ["change", "measured", "kept"],
      [
        ["same-turn answers for synchronous handlers (Router.dispatchNow), one DispatchIO per session, no debug line built when debug is off", "JS per ping in-process 2.48 -> 1.04 µs", "yes"],
        ["answers encoded into one reused buffer (Transport.writeTransient), no view per answer", "in-process 0.82 -> 0.69 µs per ping", "yes"],
        ["no typed-array view per received frame (ChunkFrame, decodeFrame)", "server CPU per sequential ping 28.5 -> 26.5 µs (echo 21.5); seq 0.87x -> 0.93x of the Bun floor, same run", "yes"],
        ["bisecting the plugin set (none, each alone, all)", "no measurable cost: core only 29.5 / 17.5 µs, full agent the same", "(finding)"],
        ["--no-subreaper", "no difference (29.0 / 19.5 vs 28.5 / 16.6 µs)", "(finding)"],
        ["bun --smol on throughput (compiled prod)", "1.00x / 0.93x with, 0.99x / 0.92x without", "kept for memory"],
        ["batched writes (cork, writev, one write per tick)", "not applicable: one request in flight per connection, each answer already one write, as the echo's", "no"],
        ["fs-diff: lstat by (dir fd, name), page accounting without a regex per entry", "one page 2.33x -> 2.07x of find, same run", "yes"],
        ["fs-diff: getdents64 on the O_NOFOLLOW fd instead of readdirSync through /proc/self/fd", "the /proc route cost 73 ms per 100 000 entries; one page 1.77x -> 1.50x", "yes"],
        ["fs-diff: typed arrays straight to FFI, cached pointers, new Uint8Array instead of subarray", "tens of ns against a ~2 µs statx", "no"],
        ["bench:fsdiff: a full GC before each timed run (the agent's run no longer pays for the in-process floor's 100 000 Stats)", "neighbouring runs 2.21x / 1.82x -> 1.68x / 1.55x", "yes (a change of measurement)"],
      ],
    ),
  ].join("\n");
}
