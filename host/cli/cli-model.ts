// The command table as data for generated text: shell completion scripts and the man page read it, as --help does.

import type { ArgSpec, ArgSpecs } from "../../agent/argv.ts";
import { BUNDLED_REQUESTS } from "../../plugins/requests.ts";
import { GLOBAL_FLAGS, type Command, type PositionalKind } from "./command.ts";

/** One flag as a shell or a man page shows it. */
export interface FlagInfo {
  /** `check` (shown `--check`). */
  long: string;
  /** `o` (shown `-o`). */
  short?: string;
  /** Takes a value (`--check NAME`). */
  valued: boolean;
  /** The value's name in help (`NAME`, `SECS`). */
  arg: string;
  /** A switch that is on by default: offered as `--no-NAME` too. */
  negatable: boolean;
  description: string;
  /** Words to offer for the value, or paths. */
  values?: readonly string[] | "file" | "dir";
}

/** One positional: what to offer, and whether it repeats. */
export interface ArgInfo {
  kind: "vm" | "choice";
  words?: readonly string[];
  repeats: boolean;
}

/** One command as a shell or a man page shows it. */
export interface CommandInfo {
  name: string;
  summary: string;
  usage: string;
  details: string;
  flags: FlagInfo[];
  args: ArgInfo[];
}

/** Bundled request names, offered for `call VM <TAB>` (custom plugins' names are the agent's own). */
export const REQUEST_NAMES: readonly string[] = Object.keys(BUNDLED_REQUESTS).sort();

/** The help flag every command takes. */
const HELP: ArgSpec = { type: "boolean", short: "h", description: "Show the help." };

function flagInfo(long: string, spec: ArgSpec, values?: readonly string[] | "file" | "dir"): FlagInfo {
  const valued = spec.type !== "boolean";
  return {
    long,
    ...(spec.short ? { short: spec.short } : {}),
    valued,
    arg: spec.arg ?? (spec.type === "number" ? "N" : "VALUE"),
    negatable: spec.type === "boolean" && spec.default === true,
    description: spec.description,
    ...(values !== undefined ? { values } : {}),
  };
}

function flagsOf(specs: ArgSpecs, values: Record<string, readonly string[] | "file" | "dir"> = {}): FlagInfo[] {
  return Object.entries(specs).map(([name, spec]) => flagInfo(name, spec, Object.hasOwn(values, name) ? values[name] : undefined));
}

function argInfo(kind: PositionalKind, last: boolean): ArgInfo {
  if (kind === "vm") return { kind: "vm", repeats: false };
  if (kind === "vms") return { kind: "vm", repeats: last };
  if (kind === "request") return { kind: "choice", words: REQUEST_NAMES, repeats: false };
  return { kind: "choice", words: kind, repeats: false };
}

/**
 * The global flags (before or after a command), with `--help` and, before a command only, `--version`.
 * A command's own flag of the same name replaces the global one after it (wait's --timeout).
 */
export function globalFlags(withVersion: boolean): FlagInfo[] {
  const flags = [...flagsOf(GLOBAL_FLAGS, { vms: "file" }), flagInfo("help", HELP)];
  // --color is a switch whose --no-color form is the point.
  const color = flags.find((f) => f.long === "color");
  if (color) color.negatable = true;
  if (withVersion) flags.push(flagInfo("version", { type: "boolean", description: "Print mvmctl's version." }));
  return flags;
}

/** A command as data: its own flags, then the global ones it accepts (its own win on a shared name). */
export function commandInfo(c: Command): CommandInfo {
  const own = flagsOf(c.flags, c.complete?.values);
  const kinds = c.complete?.args ?? [];
  return {
    name: c.name,
    summary: c.summary,
    usage: c.usage,
    details: c.details?.trim() ?? "",
    flags: [...own, ...globalFlags(false).filter((g) => !own.some((f) => f.long === g.long))],
    args: kinds.map((k, i) => argInfo(k, i === kinds.length - 1)),
  };
}

/** Every shown form of a flag: `--check`, `-o`, `--no-clock`. */
export function flagWords(f: FlagInfo): string[] {
  return [`--${f.long}`, ...(f.short ? [`-${f.short}`] : []), ...(f.negatable ? [`--no-${f.long}`] : [])];
}

/** The first sentence of a description, for a completion menu. */
export function brief(text: string): string {
  const one = text.replace(/\s+/g, " ").trim();
  const end = one.search(/\.(\s|$)/);
  return (end > 0 ? one.slice(0, end) : one).slice(0, 100);
}

/** Flags that take a value, as words (`--check`, `-o`), for skipping values while counting positionals. */
export function valuedWords(flags: FlagInfo[]): string[] {
  return flags.filter((f) => f.valued).flatMap((f) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])]);
}
