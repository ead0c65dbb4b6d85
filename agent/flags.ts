// The agent's plugin flags on top of agent/argv.ts: parse a FlagSpec table into FlagValues, help lines, whole-number checks.

import { FlagError, formatFlags, parseArgv } from "./argv.ts";
import type { FlagSpec, FlagValues } from "./plugin.ts";

export { FlagError } from "./argv.ts";

/**
 * Parse the agent's command line against the core's and the plugins' flags (agent/argv.ts rules:
 * `--name value`, `--name=value`, `--flag`, `--no-flag`, repeated lists, "did you mean"). `rest` holds
 * the positionals, then everything after `--`.
 * @example const { values } = parseFlags(["--worker-busy-threshold", "0.3"], workerModule.flags!);
 */
export function parseFlags(argv: string[], specs: Record<string, FlagSpec>): { values: FlagValues; rest: string[] } {
  const p = parseArgv(argv, specs, { help: "see --help" });
  return { values: p.values, rest: [...p.positionals, ...(p.tail ?? [])] };
}

/** `--help` lines for a set of flags. */
export function flagHelp(specs: Record<string, FlagSpec>): string {
  return formatFlags(specs);
}

/** Require a number flag to be an integer in a range. */
export function intFlag(values: FlagValues, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = values[name];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw new FlagError(`--${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
}
