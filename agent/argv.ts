// The one command-line parser of every entry point: node:util parseArgs under typed specs, help text and "did you mean".

import { parseArgs } from "node:util";
import { escapeControl } from "./log.ts";

/** What a flag holds: text, a number, on/off, or text given once per use (`--env A=1 --env B=2`). */
export type ArgKind = "string" | "number" | "boolean" | "list";

type DefaultOf<K extends ArgKind> = K extends "string" ? string : K extends "number" ? number : K extends "boolean" ? boolean : string[];

/**
 * One flag. `default` must match `type` (a number flag with a text default is a type error through
 * `defineFlags`, and a FlagError at parse time for specs built at run time).
 * @example const flags = defineFlags({ lines: { type: "number", short: "n", arg: "N", description: "Lines to show", default: 20 } });
 */
export interface ArgSpec<K extends ArgKind = ArgKind> {
  type: K;
  description: string;
  default?: DefaultOf<K>;
  /** A one-letter alias: `"f"` makes `-f` mean this flag. */
  short?: string;
  /** The value's name in help: `--to DIR` (default `N` for numbers, `VALUE` otherwise). */
  arg?: string;
}

export type ArgSpecs = Record<string, ArgSpec>;

type ValueOf<K extends ArgKind> = K extends "number" ? number : K extends "boolean" ? boolean : K extends "list" ? string[] : string;

/**
 * Parsed values, typed from the specs: a flag with a default (and every list) always has a value,
 * any other may be `undefined`. A misspelled name is a type error.
 */
export type ArgValues<S extends ArgSpecs> = {
  -readonly [N in keyof S]: S[N] extends { default: unknown } ? ValueOf<S[N]["type"]> : S[N]["type"] extends "list" ? string[] : ValueOf<S[N]["type"]> | undefined;
};

/** Specs whose defaults match their types (for `defineFlags` and command tables built on it). */
export type CheckedSpecs<S extends ArgSpecs> = { [N in keyof S]: ArgSpec<S[N]["type"]> };

/**
 * Keep the literal types of a spec table (so that values are typed from it) and check each default
 * against its flag's type at compile time.
 * @example const SERVE = defineFlags({ port: { type: "number", description: "TCP port", default: 7070 } }); // values.port: number
 */
export function defineFlags<const S extends ArgSpecs>(specs: S & CheckedSpecs<S>): S {
  return specs;
}

/**
 * A bad command line; the message names the flag or argument. Callers exit with 2. What the user typed
 * is in it with its control characters escaped: a flag name cannot recolour or rewrite the terminal.
 */
export class FlagError extends Error {
  override name = "FlagError";
  constructor(message: string) {
    super(escapeControl(message));
  }
}

export interface ParseOptions {
  /** Appended to an unknown flag's message: `see mvmctl ls --help` gives `... (see mvmctl ls --help)`. */
  help?: string;
  /**
   * Stop at the first positional (a command name, then the only one in `positionals`): the unknown
   * flags seen before it and everything after it are handed back in `rest`, untouched, for the
   * command's own pass. For a first pass over global flags.
   */
  untilPositional?: boolean;
}

export interface Parsed<S extends ArgSpecs> {
  values: ArgValues<S>;
  /** Positionals before `--`. */
  positionals: string[];
  /** Everything after `--`, untouched; null when there was no `--`. */
  tail: string[] | null;
  /** With `untilPositional`: the unknown flags before the first positional, then all after it. */
  rest: string[];
  /** With `untilPositional`: the unknown flags before the first positional (the start of `rest`). */
  unknown: string[];
}

/** Edit distance with transpositions (optimal string alignment): `jsno` is one edit from `json`. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

/**
 * The candidates close to `word`, nearest first (at most `limit`): within one edit per three letters
 * (at least one; a swap of two letters is one edit), or starting with it. For "did you mean" on flags,
 * commands and VM names.
 * @example nearest("helth", ["health", "ls", "logs"]) // ["health"]
 */
export function nearest(word: string, candidates: readonly string[], limit = 3): string[] {
  if (!word || word.length > 200) return [];
  const most = Math.max(1, Math.floor(word.length / 3));
  const scored = candidates
    .map((c, i) => ({ c, i, d: word.length >= 2 && c.startsWith(word) ? 1 : editDistance(word, c) }))
    .filter((x) => x.d <= most);
  const best = Math.min(...scored.map((x) => x.d));
  return scored
    .filter((x) => x.d === best)
    .slice(0, limit)
    .map((x) => x.c);
}

/** ` (did you mean A or B?)`, or "" when nothing is close. */
export function didYouMean(word: string, candidates: readonly string[], show: (c: string) => string = (c) => c): string {
  const near = nearest(word, candidates);
  return near.length ? ` (did you mean ${near.map(show).join(" or ")}?)` : "";
}

/**
 * The error for an unknown command or sub-command, with the closest names.
 * @example throw unknownCommand("helth", ["health", "ls"]) // unknown command "helth" (did you mean health?)
 */
export function unknownCommand(word: string, names: readonly string[], what = "command"): FlagError {
  const hint = didYouMean(word, names);
  return new FlagError(`unknown ${what} ${JSON.stringify(word)}${hint || ` (${what}s: ${names.join(", ")})`}`);
}

const SHORT = /^[A-Za-z]$/;

/** A spec table built at run time (plugins' flags) must still hold together: defaults of the right type, one-letter aliases used once. */
function checkSpecs(specs: ArgSpecs): Map<string, string> {
  const shorts = new Map<string, string>();
  for (const [name, s] of Object.entries(specs)) {
    const d = s.default;
    const ok =
      d === undefined ||
      (s.type === "list" ? Array.isArray(d) && d.every((x) => typeof x === "string") : s.type === "number" ? typeof d === "number" && Number.isFinite(d) : typeof d === s.type);
    if (!ok) throw new FlagError(`flag --${name} is declared ${s.type} but its default is ${JSON.stringify(d)}`);
    if (s.short !== undefined) {
      if (!SHORT.test(s.short)) throw new FlagError(`flag --${name}: short alias ${JSON.stringify(s.short)} must be one letter`);
      if (shorts.has(s.short)) throw new FlagError(`flags --${shorts.get(s.short)} and --${name} both claim -${s.short}`);
      shorts.set(s.short, name);
    }
  }
  return shorts;
}

type Value = string | number | boolean | string[] | undefined;

/**
 * Parse `argv` against `specs`: `--name value`, `--name=value`, `-n value`, `-n5`; booleans as `--flag`,
 * `--flag=true|false` and `--no-flag` (a boolean named `no-x` is turned back off by `--x`); lists repeat;
 * numbers are any finite number. `--` ends the flags: what follows is `tail`. Throws FlagError naming the
 * flag, with "did you mean" for a mistyped one.
 * @example
 * const { values, positionals } = parseArgv(["logs", "-n", "5"], defineFlags({ lines: { type: "number", short: "n", description: "Lines", default: 20 } }));
 * values.lines // 5
 */
export function parseArgv<S extends ArgSpecs>(argv: readonly string[], specs: S, opts: ParseOptions = {}): Parsed<S> {
  const shorts = checkSpecs(specs);
  const hint = opts.help ? ` (${opts.help})` : "";
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const [name, s] of Object.entries(specs)) {
    options[name] = { type: s.type === "boolean" ? "boolean" : "string", ...(s.short ? { short: s.short } : {}), ...(s.type === "list" ? { multiple: true } : {}) };
  }
  // Own keys only: `--constructor` or `--__proto__` must be unknown flags, not Object.prototype's.
  const specOf = (n: string): ArgSpec | undefined => (Object.hasOwn(specs, n) ? specs[n] : undefined);
  const values: Record<string, Value> = Object.create(null);
  for (const [name, s] of Object.entries(specs)) values[name] = s.type === "list" ? [...((s.default as string[] | undefined) ?? [])] : s.default;
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const positionals: string[] = [];
  const rest: string[] = [];
  const unknown: string[] = [];
  const listsGiven = new Set<string>();
  let tail: string[] | null = null;
  const perArg = new Map<number, number>();
  for (const t of tokens) if (t.kind === "option") perArg.set(t.index, (perArg.get(t.index) ?? 0) + 1);

  for (const t of tokens) {
    if (t.kind === "option-terminator") {
      tail = argv.slice(t.index + 1);
      break;
    }
    if (t.kind === "positional") {
      if (opts.untilPositional) {
        positionals.push(t.value);
        rest.push(...argv.slice(t.index + 1));
        break;
      }
      positionals.push(t.value);
      continue;
    }
    const raw = argv[t.index]!;
    const long = t.rawName.startsWith("--");
    if (!long && (perArg.get(t.index) ?? 0) > 1) {
      if (opts.untilPositional) {
        if (!unknown.includes(raw)) unknown.push(raw);
        continue;
      }
      throw new FlagError(`unknown flag ${raw} (short flags cannot be combined; long ones take two dashes${opts.help ? `; ${opts.help}` : ""})`);
    }
    let name = long ? t.name : (shorts.get(t.rawName.slice(1)) ?? "");
    let spec = specOf(name);
    let negated = false;
    if (!spec && long && t.name.startsWith("no-") && specOf(t.name.slice(3))?.type === "boolean") {
      name = t.name.slice(3);
      spec = specOf(name);
      negated = true;
    } else if (!spec && long && specOf(`no-${t.name}`)?.type === "boolean") {
      // `--exec` turns a `--no-exec` switch back off.
      name = `no-${t.name}`;
      spec = specOf(name);
      negated = true;
    }
    if (!spec) {
      if (opts.untilPositional) {
        unknown.push(raw);
        continue;
      }
      const plain = long && t.name.startsWith("no-") ? specOf(t.name.slice(3)) : undefined;
      const near = plain ? ` (--${t.name.slice(3)} takes a value; only switches have a --no- form)` : long ? didYouMean(t.name, Object.keys(specs), (c) => `--${c}`) : "";
      throw new FlagError(`unknown flag ${long ? `--${t.name}` : raw}${near}${hint}`);
    }
    const shown = t.rawName;
    if (spec.type === "boolean") {
      if (negated) {
        if (t.value !== undefined) throw new FlagError(`${shown} takes no value`);
        values[name] = false;
      } else if (t.value === undefined) values[name] = true;
      else if (t.value === "true" || t.value === "false") values[name] = t.value === "true";
      else throw new FlagError(`${shown}: expected true or false, got ${JSON.stringify(t.value)}`);
      continue;
    }
    if (t.value === undefined) throw new FlagError(`${shown} needs a value`);
    if (spec.type === "number") {
      const n = Number(t.value);
      if (t.value.trim() === "" || !Number.isFinite(n)) throw new FlagError(`${shown}: expected a number, got ${JSON.stringify(t.value)}`);
      values[name] = n;
    } else if (spec.type === "list") {
      if (!listsGiven.has(name)) values[name] = [];
      listsGiven.add(name);
      (values[name] as string[]).push(t.value);
    } else values[name] = t.value;
  }
  return { values: { ...values } as ArgValues<S>, positionals, tail, rest: [...unknown, ...rest], unknown };
}

/**
 * Help lines for a spec table, aligned: `  -n, --lines N   Lines to show [default: 20]`.
 * @example console.log(formatFlags(SERVE_FLAGS));
 */
export function formatFlags(specs: ArgSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const arg = s.type === "boolean" ? "" : ` ${s.arg ?? (s.type === "number" ? "N" : "VALUE")}${s.type === "list" ? " (repeatable)" : ""}`;
    const flag = s.type === "boolean" && s.default === true ? `--[no-]${name}` : `--${name}`;
    const left = `  ${s.short ? `-${s.short}, ` : ""}${flag}${arg}`;
    const d = s.default;
    const def = d !== undefined && d !== false && !(Array.isArray(d) && d.length === 0) ? ` [default: ${Array.isArray(d) ? d.join(",") : d}]` : "";
    return [left, `${s.description}${def}`] as const;
  });
  if (!rows.length) return "";
  const w = Math.min(40, Math.max(...rows.map((r) => r[0].length)) + 2);
  return rows.map(([a, b]) => (a.length >= w ? `${a}\n${" ".repeat(w)}${b}` : a.padEnd(w) + b)).join("\n");
}
