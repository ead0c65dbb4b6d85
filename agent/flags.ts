// Command-line flags: a small parser driven by FlagSpecs, with --help text and clear errors.

import type { FlagSpec, FlagValues } from "./plugin.ts";

export class FlagError extends Error {}

/**
 * Parse `--name value`, `--name=value`, `--flag`, `--no-flag`; list flags repeat. Unknown flags
 * and bad values throw FlagError naming the flag. Returns values (defaults filled) and positionals.
 */
export function parseFlags(argv: string[], specs: Record<string, FlagSpec>): { values: FlagValues; rest: string[] } {
  const values: FlagValues = {};
  const rest: string[] = [];
  for (const [k, s] of Object.entries(specs)) if (s.default !== undefined) values[k] = Array.isArray(s.default) ? [...s.default] : s.default;
  const seenLists = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      rest.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let inline: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    let spec = specs[name];
    if (!spec && name.startsWith("no-") && specs[name.slice(3)]?.type === "boolean" && inline === undefined) {
      name = name.slice(3);
      values[name] = false;
      continue;
    }
    if (!spec && specs[`no-${name}`]?.type === "boolean") {
      // `--exec` turns a `--no-exec` switch back off.
      values[`no-${name}`] = false;
      continue;
    }
    if (!spec) throw new FlagError(`unknown flag --${name} (see --help)`);
    if (spec.type === "boolean") {
      if (inline === undefined) values[name] = true;
      else if (inline === "true" || inline === "false") values[name] = inline === "true";
      else throw new FlagError(`--${name}: expected true or false, got ${JSON.stringify(inline)}`);
      continue;
    }
    if (inline === undefined) {
      if (i + 1 >= argv.length) throw new FlagError(`--${name} needs a value`);
      inline = argv[++i]!;
    }
    if (spec.type === "number") {
      const n = Number(inline);
      if (inline.trim() === "" || !Number.isFinite(n)) throw new FlagError(`--${name}: expected a number, got ${JSON.stringify(inline)}`);
      values[name] = n;
    } else if (spec.type === "list") {
      if (!seenLists.has(name)) {
        seenLists.add(name);
        values[name] = [];
      }
      (values[name] as string[]).push(inline);
    } else values[name] = inline;
  }
  return { values, rest };
}

/** `--help` lines for a set of flags. */
export function flagHelp(specs: Record<string, FlagSpec>): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const arg = s.type === "boolean" ? "" : s.type === "number" ? " N" : s.type === "list" ? " VALUE (repeatable)" : " VALUE";
    const def = s.default !== undefined && s.default !== false && !(Array.isArray(s.default) && s.default.length === 0) ? ` [default: ${Array.isArray(s.default) ? s.default.join(",") : s.default}]` : "";
    return [`  --${name}${arg}`, `${s.description}${def}`] as const;
  });
  const w = Math.min(40, Math.max(...rows.map((r) => r[0].length)) + 2);
  return rows.map(([a, b]) => (a.length >= w ? `${a}\n${" ".repeat(w)}${b}` : a.padEnd(w) + b)).join("\n");
}

/** Require a number flag to be an integer in a range. */
export function intFlag(values: FlagValues, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = values[name];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw new FlagError(`--${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
}
