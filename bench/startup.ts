// bench:startup — the compiled agent binaries (prod and dev): time from spawn to the first answered ping, and
// idle RSS, each beside a compiled Bun.listen echo (runtime floor) and a C epoll echo (machine floor) measured
// in the same run. usage: bun bench/startup.ts [--runs N]

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentBinaries } from "../test/support/index.ts";
import { compileC, machineLine, numArg, percentile, root, table, writeResult } from "./lib.ts";
import { readyAndIdle } from "./mem.ts";

const RUNS = numArg("runs", 9);

const dir = mkdtempSync(join(tmpdir(), "bench-startup-"));
const client = compileC("rpcclient", dir);
const echoC = compileC("echoserver", dir);

function build(args: string[], what: string): void {
  const p = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe", cwd: root });
  if (p.exitCode !== 0) throw new Error(`${what} failed: ${p.stderr.toString()}${p.stdout.toString()}`);
}

// Binaries of the code as it is now (dist/ may be stale): the shared cache, keyed by the sources.
const bins = await agentBinaries();
build([process.execPath, "build", "--compile", join(root, "bench/echo-bun.ts"), "--outfile", join(dir, "echo-bun")], "bun build --compile echo-bun");

interface Figures {
  readyMs: number;
  readyP90: number;
  rssMb: number;
  anonMb: number;
}

const once = (argv: (sock: string) => string[], i: number) => readyAndIdle(argv, dir, client, i);

const subjects: [string, (sock: string) => string[]][] = [
  ["C epoll echo (machine floor)", (s) => [echoC, s]],
  ["compiled Bun.listen echo (runtime floor)", (s) => [join(dir, "echo-bun"), s]],
  ["mvm-guest-agent (prod)", (s) => [bins.prod, "--listen", `unix:${s}`, "--config-dir", join(dir, "etc"), "--log-level", "warn"]],
  ["mvm-guest-agent-dev (dev)", (s) => [bins.dev, "--listen", `unix:${s}`, "--config-dir", join(dir, "etc"), "--log-level", "warn"]],
];

const samples = new Map<string, { ms: number[]; rss: number[]; anon: number[] }>(subjects.map(([n]) => [n, { ms: [], rss: [], anon: [] }]));
for (const [, argv] of subjects) await once(argv, -1); // warm the page cache
for (let i = 0; i < RUNS; i++)
  for (const [name, argv] of subjects) {
    const r = await once(argv, i);
    samples.get(name)!.ms.push(r.ms);
    samples.get(name)!.rss.push(r.rss);
    samples.get(name)!.anon.push(r.anon);
  }
rmSync(dir, { recursive: true, force: true });

const fig = (n: string): Figures => {
  const s = samples.get(n)!;
  return { readyMs: percentile(s.ms, 50), readyP90: percentile(s.ms, 90), rssMb: percentile(s.rss, 50), anonMb: percentile(s.anon, 50) };
};
const c = fig(subjects[0]![0]);
const b = fig(subjects[1]![0]);
const rows = subjects.map(([n]) => {
  const f = fig(n);
  return [n, f.readyMs, f.readyP90, f.rssMb, f.anonMb, (f.readyMs / b.readyMs).toFixed(2) + "x", (f.rssMb / b.rssMb).toFixed(2) + "x"];
});
const prod = fig(subjects[2]![0]);
const dev = fig(subjects[3]![0]);
const md = [
  "## bench:startup — compiled binaries: time to ready and idle RSS",
  "",
  `Measured ${machineLine()}. Binaries built by scripts/build.ts from the current sources (test/support/binaries.ts); the floors are bench/echo-bun.ts compiled with \`bun build --compile\` and bench/c/echoserver.c (gcc -O2). ` +
    `Time to ready: spawn until the first ping (bench/c/rpcclient.c) is answered; median and p90 of ${RUNS} interleaved runs, empty config dir. ` +
    `Idle RSS: VmRSS once it stops moving after that ping; \"anonymous\" is the part that is not file-backed pages of the binary ` +
    `(smaps_rollup: heap, stacks), the rest being code and embedded bytecode the kernel can drop and re-read. Reproduce: \`bun run bench:startup\`.`,
  "",
  table(["binary", "ready p50 ms", "ready p90 ms", "idle RSS MB", "of which anonymous MB", "ready / Bun floor", "RSS / Bun floor"], rows),
  "",
  table(
    ["figure", "prod", "dev", "target", "verdict"],
    [
      ["time to ready, ms", prod.readyMs, dev.readyMs, "< 60", prod.readyMs < 60 && dev.readyMs < 60 ? "PASS" : "FAIL"],
      ["idle RSS, MB", prod.rssMb, dev.rssMb, "< 45", prod.rssMb < 45 && dev.rssMb < 45 ? "PASS" : "FAIL"],
      ["idle anonymous memory, MB", prod.anonMb, dev.anonMb, "(reference)", ""],
      // The footprint issue's targets, as ratios to the compiled Bun echo of this run (bench:footprint has them too).
      ["time to ready / Bun floor", (prod.readyMs / b.readyMs).toFixed(2) + "x", (dev.readyMs / b.readyMs).toFixed(2) + "x", "<= 3.00x", prod.readyMs <= b.readyMs * 3 && dev.readyMs <= b.readyMs * 3 ? "PASS" : "FAIL"],
      ["idle RSS / Bun floor", (prod.rssMb / b.rssMb).toFixed(2) + "x", (dev.rssMb / b.rssMb).toFixed(2) + "x", "<= 1.30x", prod.rssMb <= b.rssMb * 1.3 && dev.rssMb <= b.rssMb * 1.3 ? "PASS" : "FAIL"],
      ["idle anonymous / Bun floor's", (prod.anonMb / b.anonMb).toFixed(2) + "x", (dev.anonMb / b.anonMb).toFixed(2) + "x", "<= 2.50x", prod.anonMb <= b.anonMb * 2.5 && dev.anonMb <= b.anonMb * 2.5 ? "PASS" : "FAIL"],
      ["time to ready over the C floor, ms", prod.readyMs - c.readyMs, dev.readyMs - c.readyMs, "(reference)", ""],
    ],
  ),
  "",
].join("\n");
writeResult("startup", md);
