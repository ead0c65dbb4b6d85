// Shared helpers of the benchmarks: percentiles, markdown tables, the machine line, result files.

import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { spawnAgent } from "../test/support/index.ts";

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

/** `--NAME N` from the command line: a positive number, or `def` when the flag is absent. */
export function numArg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: expected a positive number, got ${process.argv[i + 1]}`);
  return v;
}

/** One agent process (all bundled plugins, empty config) serving `count` unix sockets: each a "VM". */
export interface FleetAgent {
  socks: string[];
  /** `{ name: "vmN", agent: "unix:..." }` for each socket, as vms.json lists them. */
  vms: { name: string; agent: string }[];
  stop(): Promise<void>;
}

/** Start a FleetAgent (the shared spawnAgent, from source) and wait (at most 30 s) until every socket exists. */
export async function startFleetAgent(count: number): Promise<FleetAgent> {
  const agent = await spawnAgent({ sockets: count, args: ["--log-level", "warn"] });
  return {
    socks: agent.sockets,
    vms: agent.sockets.map((s, i) => ({ name: `vm${i}`, agent: `unix:${s}` })),
    stop: async () => void (await agent.stop()),
  };
}

/**
 * A picker over a weighted mix of request makers (bench:soak, bench:footprint).
 * @example const pick = weightedPick([[3, () => ({ type: "ping" })], [1, () => ({ type: "status" })]]); pick();
 */
export function weightedPick<T>(mix: [number, () => T][]): () => T {
  const total = mix.reduce((n, [w]) => n + w, 0);
  return () => {
    let x = Math.random() * total;
    for (const [w, f] of mix) if ((x -= w) < 0) return f();
    return mix[0]![1]();
  };
}
