// bench:track — one /proc marker scan (agent/track.ts pidsWithMarker, the fallback command tracking)
// over 100 processes with 1.7 MB environments, as any guest user can start them, against a floor
// measured in the same run: the same scan over 100 processes with ordinary 2 KB environments.
// usage: bun bench/track.ts [--procs 100] [--scans 20]

import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MARKER_VAR, MAX_ENVIRON_SCAN_BYTES, pidsWithMarker } from "../agent/track.ts";
import { machineLine, numArg, percentile, table, writeResult } from "./lib.ts";

const PROCS = numArg("procs", 100);
const SCANS = numArg("scans", 20);
/** Read whole, as before the cap, the same scan was 240 times its floor (430 ms against 1.8 ms). */
const TARGET_RATIO = 10;

/** Bytes this process read with read(2) (the /proc/self/io read itself adds about 100 bytes). */
const rchar = () => Number(/rchar: (\d+)/.exec(readFileSync("/proc/self/io", "utf8"))![1]);

/** PROCS sleeping processes with `env`, linked into a proc dir of their own; the scan runs over it. */
async function phase(env: Record<string, string>): Promise<{ p50: number; p99: number; bytesPerScan: number; envBytes: number }> {
  const dir = mkdtempSync(join(tmpdir(), "bench-track-"));
  const procs = Array.from({ length: PROCS }, () => Bun.spawn(["sleep", "600"], { env, stdout: "ignore", stderr: "ignore" }));
  try {
    for (const p of procs) symlinkSync(`/proc/${p.pid}`, join(dir, String(p.pid)));
    while (!procs.every((p) => readFileSync(`/proc/${p.pid}/cmdline`, "utf8").startsWith("sleep"))) await Bun.sleep(10);
    const envBytes = readFileSync(`/proc/${procs[0]!.pid}/environ`).length;
    const wanted = new Set(["1.absent"]); // the usual case at a deadline: most processes carry no marker asked for
    pidsWithMarker(MARKER_VAR, wanted, dir); // warm-up
    const ms: number[] = [];
    const r0 = rchar();
    for (let i = 0; i < SCANS; i++) {
      const t0 = performance.now();
      pidsWithMarker(MARKER_VAR, wanted, dir);
      ms.push(performance.now() - t0);
    }
    return { p50: percentile(ms, 50), p99: percentile(ms, 99), bytesPerScan: (rchar() - r0) / SCANS, envBytes };
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

const plain = { HOME: "/root", PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", PAD: "p".repeat(2000) };
const hostile = Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`PAD${i}`, String(i % 10).repeat(120 * 1024)]));
const floor = await phase(plain);
const attack = await phase(hostile);
const ratio = attack.p50 / floor.p50;
const kib = (n: number) => `${Math.round(n / 1024)} KiB`;
writeResult(
  "track",
  `## bench:track

${table(
  ["figure", "value", "floor", "ratio", "target", ""],
  [
    [`one /proc scan over ${PROCS} processes with ${(attack.envBytes / 1e6).toFixed(1)} MB environments, p50 ms`, attack.p50, floor.p50, ratio, `< ${TARGET_RATIO}`, ratio < TARGET_RATIO ? "PASS" : "FAIL"],
    ["the same, p99 ms", attack.p99, floor.p99, attack.p99 / floor.p99, "", ""],
    ["bytes read per scan", kib(attack.bytesPerScan), kib(floor.bytesPerScan), attack.bytesPerScan / floor.bytesPerScan, `<= ${PROCS} x ${kib(MAX_ENVIRON_SCAN_BYTES)}`, attack.bytesPerScan <= PROCS * MAX_ENVIRON_SCAN_BYTES + 1024 ? "PASS" : "FAIL"],
  ],
)}

Floor: the same scan over ${PROCS} processes with ordinary ${kib(floor.envBytes)} environments. Each process is
read to ${kib(MAX_ENVIRON_SCAN_BYTES)} at most (MAX_ENVIRON_SCAN_BYTES); read whole, as before, one scan of
the hostile set read ${(PROCS * attack.envBytes / 1e6).toFixed(0)} MB. ${SCANS} scans each after a warm-up. ${machineLine()}. Reproduce: \`bun bench/track.ts\`.
`,
);
