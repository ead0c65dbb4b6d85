// Shared helpers of the benchmarks: percentiles, markdown tables, the machine line, result files.

import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";

export const root = join(import.meta.dir, "..");

/** The p-th percentile (0..100) of numbers (sorted copy). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** A markdown table. */
export function table(head: string[], rows: (string | number)[][]): string {
  const fmt = (v: string | number) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v);
  return [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.map(fmt).join(" | ")} |`)].join("\n");
}

/** Where and when a figure was measured. */
export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return `${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Bun ${Bun.version}`;
}

/** Print a result section and keep it in bench/results/NAME.md for BENCHMARKS.md. */
export function writeResult(name: string, markdown: string): void {
  const dir = join(root, "bench/results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.md`), markdown.endsWith("\n") ? markdown : markdown + "\n");
  console.log(markdown);
}

/** Compile a C file of bench/c with gcc -O2; returns the binary path. */
export function compileC(name: string, outDir: string): string {
  const out = join(outDir, name);
  const p = Bun.spawnSync(["gcc", "-O2", "-o", out, join(root, "bench/c", `${name}.c`), "-lpthread"], { stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`gcc ${name}.c failed: ${p.stderr.toString()}`);
  return out;
}
