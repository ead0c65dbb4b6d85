// Files the agent reads: agent.json, drop-in directories (*.d/*.json) validated with zod, and their watch.

import { readdirSync, statSync, watch, type FSWatcher } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { nearest } from "./argv.ts";
import { configDirProblem, readConfigFile, type ConfigFiles, type ConfigRefusal, type SkippedFile } from "./config-file.ts";
import type { Logger } from "./log.ts";

/** `field health_interval_secs: Too small: expected number to be >=1; field name: Required` */
export function zodIssuesText(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `field ${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ");
}

/** Longest interval or timeout any config file may ask for (one day); timers beyond ~24.8 days overflow. */
export const MAX_FILE_SECS = 86_400;

/**
 * An interval or timeout of a config file: whole seconds from `min` to one day, with a default. Every
 * format names these `*_secs` and uses this one type, so that the same number means the same thing.
 * @example z.object({ interval_secs: fileSecs(60) })
 */
export function fileSecs(def: number, min = 1) {
  return z.number().int("must be whole seconds").min(min).max(MAX_FILE_SECS).default(def);
}

/** Keys every config file leaves to its users (the compose-spec's extension fields): never an error. */
export const EXTENSION_KEY = /^x-/;

/** How many unknown keys one message names (a file of 10 000 typos is one short line). */
const MAX_NAMED_KEYS = 5;

/**
 * Why the keys of `value` that `known` does not hold are errors, one text per key (`x-` keys are
 * allowed): `field helth_cmd: unknown key (did you mean health_cmd?)`. `hints` names the key that other
 * tools' spelling stands for (Docker's `interval`); `prefix` is the section's path (`worker.`).
 * @example unknownKeyProblems(["health_cmd", "name"], { name: "x", helth_cmd: "true" }) // ["field helth_cmd: unknown key (did you mean health_cmd?)"]
 */
export function unknownKeyProblems(known: readonly string[], value: Record<string, unknown>, opts: { prefix?: string; hints?: Readonly<Record<string, string>> } = {}): string[] {
  const prefix = opts.prefix ?? "";
  const have = new Set(known);
  const extra = Object.keys(value).filter((k) => !have.has(k) && !EXTENSION_KEY.test(k));
  const out = extra.slice(0, MAX_NAMED_KEYS).map((k) => {
    const near = nearest(k, known, 2);
    const hint = near.length ? near.map((n) => prefix + n).join(" or ") : opts.hints && Object.hasOwn(opts.hints, k) ? prefix + opts.hints[k] : undefined;
    const shown = k.length > 80 ? `${k.slice(0, 80)}…` : k;
    return `field ${prefix}${shown}: unknown key${hint ? ` (did you mean ${hint}?)` : ""}`;
  });
  if (extra.length > MAX_NAMED_KEYS) out.push(`${extra.length - MAX_NAMED_KEYS} more unknown key(s)`);
  if (out.length) out[out.length - 1] += " (keys starting with x- are left to users)";
  return out;
}

/** A copy of `value` without its `x-` keys (what a schema validates). */
export function withoutExtensions(value: Record<string, unknown>): Record<string, unknown> {
  if (!Object.keys(value).some((k) => EXTENSION_KEY.test(k))) return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => !EXTENSION_KEY.test(k)));
}

/**
 * A JSON Schema (from `z.toJSONSchema`) made strict the way the loaders are: no property it does not
 * name (`additionalProperties: false`) except `x-` ones (`patternProperties`), nested objects too.
 * @example strictJsonSchema(z.toJSONSchema(IntegrationFile, { io: "input" }))
 */
export function strictJsonSchema<T>(schema: T): T {
  const visit = (s: unknown): void => {
    if (!s || typeof s !== "object") return;
    const o = s as Record<string, unknown>;
    if (o.type === "object" && o.properties && typeof o.properties === "object") {
      o.additionalProperties = false;
      o.patternProperties = { "^x-": {} };
      for (const p of Object.values(o.properties as Record<string, unknown>)) visit(p);
    }
  };
  visit(schema);
  return schema;
}

/** What agent.json may hold: each module's section (a zod object) by key, and top-level keys read as they are. */
export interface AgentFileSpec {
  sections: Readonly<Record<string, z.ZodObject>>;
  /** Top-level keys besides the sections (the original agent's `busy_threshold`, `port`). */
  topLevel: readonly string[];
}

/**
 * Why an agent.json object would be skipped (`;`-joined problems), or undefined when it loads:
 * unknown keys at the top or in a section (`x-` keys aside), a section that is not an object or
 * fails its schema.
 */
export function agentFileProblems(v: Record<string, unknown>, spec: AgentFileSpec): string | undefined {
  const problems = unknownKeyProblems([...Object.keys(spec.sections), ...spec.topLevel], v);
  for (const [key, schema] of Object.entries(spec.sections)) {
    const section = v[key];
    if (section === undefined) continue;
    if (section === null || typeof section !== "object" || Array.isArray(section)) {
      problems.push(`field ${key}: must be an object`);
      continue;
    }
    const s = section as Record<string, unknown>;
    problems.push(...unknownKeyProblems(Object.keys(schema.shape), s, { prefix: `${key}.` }));
    const r = schema.safeParse(withoutExtensions(s));
    if (!r.success) problems.push(zodIssuesText(r.error.issues.map((i) => ({ ...i, path: [key, ...i.path] }))));
  }
  return problems.length ? problems.join("; ") : undefined;
}

/**
 * Read `<configDir>/agent.json` through the safe open (agent/config-file.ts). Missing -> {}; refused,
 * unreadable, not an object, or (with `spec`) holding an unknown key or a bad section -> {} (every
 * setting at its default) and one console line naming the file, the key and the nearest known key;
 * the file is then in `files`' book (`status.config_skipped`, refusals also in `config_refused`).
 * `x-` keys are dropped from what is returned. Plugins validate their own sections again.
 * @example readAgentFile("/etc/mvm", log, files, { sections: { worker: WorkerConfig }, topLevel: [] })
 */
export function readAgentFile(configDir: string, log: Logger, files?: ConfigFiles, spec?: AgentFileSpec): Record<string, unknown> {
  const file = join(configDir, "agent.json");
  const r = readConfigFile(file, { root: configDir, files });
  files?.setRefused(file, r.ok || r.missing ? [] : [{ file, reason: r.reason }]);
  const skip = (message: string): Record<string, unknown> => {
    files?.setSkipped(file, [{ file, message }]);
    log.warn(`${file}: skipped: ${message}; every setting at its default`, skipFields(file, message));
    return {};
  };
  if (!r.ok) {
    files?.setSkipped(file, []);
    return r.missing ? {} : skip(`refused: ${r.reason}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(r.text);
  } catch (e) {
    return skip(`not valid JSON: ${(e as Error).message}`);
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) return skip("must hold one JSON object");
  const obj = v as Record<string, unknown>;
  if (spec) {
    const why = agentFileProblems(obj, spec);
    if (why) return skip(why);
  }
  files?.setSkipped(file, []);
  const out = withoutExtensions(obj);
  for (const [k, s] of Object.entries(out))
    if (s && typeof s === "object" && !Array.isArray(s)) out[k] = withoutExtensions(s as Record<string, unknown>);
  return out;
}

/**
 * Validate a section of agent.json (or any object) with zod. On failure, logs one line naming the
 * file and the field and returns the defaults (schema applied to {}).
 */
export function parseSection<S extends z.ZodType>(schema: S, value: unknown, where: string, log: Logger): z.output<S> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  log.warn(`${where}: ${zodIssuesText(r.error.issues)}; using defaults for this section`);
  return schema.parse({});
}

export interface DropinEntry<T> {
  file: string;
  value: T;
  /** The file's text, to tell changed entries from unchanged ones on reload. */
  text: string;
}

/**
 * The log fields of a skipped file's line: the file and, when the reason names one, the first field
 * (`field health_cmd: ...` -> `{ file, field: "health_cmd" }`), so JSON logs carry them as keys.
 */
export function skipFields(file: string, message: string): { file: string; field?: string } {
  const field = /^field ([^:\s]{1,200}):/.exec(message)?.[1];
  return field ? { file, field } : { file };
}

/** A skipped drop-in file (or its directory) and why; the same record `status.config_skipped` lists. */
export type DropinProblem = SkippedFile;

export interface DropinLoad<T> {
  /** Loaded entries by name, in file-name order. */
  entries: Map<string, DropinEntry<T>>;
  /** Files skipped, with why (each also logged once). */
  skipped: DropinProblem[];
  /** The directory does not exist. */
  missing: boolean;
}

export interface DropinOptions<S extends z.ZodObject> {
  dir: string;
  schema: S;
  /** The name field of an entry (for uniqueness). */
  nameOf(value: z.output<S>): string;
  /** Called with every problem and warning line; defaults to no logging. */
  log?: Logger;
  /** Rewrite raw JSON before validation (aliases such as `cmd` -> `command`). */
  prepare?(raw: Record<string, unknown>): Record<string, unknown>;
  /** Keys the schema accepts besides its own (an alias `prepare` maps: `cmd`). */
  aliases?: readonly string[];
  /** Other tools' key -> ours, named in the error when no known key is near (Docker's `interval`). */
  hints?: Readonly<Record<string, string>>;
  /** The config dir symlinks may not leave (default: the drop-in dir's parent). */
  root?: string;
  /** The agent's trust policy and refusal book (default: strict, nothing recorded). */
  files?: ConfigFiles;
}

/**
 * One drop-in file's object checked as `loadDropins` checks it: unknown keys (`x-` aside, with the
 * nearest known key), then the schema. The image builder's `config check` and `render` use it too.
 * @example parseDropin({ schema: IntegrationFile }, { name: "web", helth_cmd: "true" }) // { ok: false, message: "field helth_cmd: unknown key (did you mean health_cmd?) ..." }
 */
export function parseDropin<S extends z.ZodObject>(
  opts: Pick<DropinOptions<S>, "schema" | "prepare" | "aliases" | "hints">,
  raw: Record<string, unknown>,
): { ok: true; value: z.output<S> } | { ok: false; message: string } {
  const unknown = unknownKeyProblems([...Object.keys(opts.schema.shape), ...(opts.aliases ?? [])], raw, { hints: opts.hints });
  const bare = withoutExtensions(raw);
  const r = opts.schema.safeParse(opts.prepare ? opts.prepare(bare) : bare);
  if (unknown.length || !r.success) return { ok: false, message: [...unknown, ...(r.success ? [] : [zodIssuesText(r.error.issues)])].join("; ") };
  return { ok: true, value: r.data };
}

/**
 * Load every `*.json` of a drop-in directory in name order, each through the safe open
 * (agent/config-file.ts). A file that is refused (symlink out, not regular, too big, writable by
 * others, foreign owner), not JSON, holds a key the schema does not know (`x-` keys aside: the error
 * names the nearest known key), fails the schema, or repeats a name is skipped with one line naming
 * the file and the reason. Refusals and skips are recorded in `files` for `status`. A refused
 * directory is one problem whose `file` is the directory. Never throws.
 */
export function loadDropins<S extends z.ZodObject>(opts: DropinOptions<S>): DropinLoad<z.output<S>> {
  const out: DropinLoad<z.output<S>> = { entries: new Map(), skipped: [], missing: false };
  const trust = { root: opts.root ?? dirname(opts.dir), files: opts.files };
  const refused: ConfigRefusal[] = [];
  const done = () => {
    opts.files?.setRefused(opts.dir, refused);
    opts.files?.setSkipped(opts.dir, out.skipped);
    return out;
  };
  const dirBad = configDirProblem(opts.dir, trust);
  if (dirBad) {
    if (dirBad.missing) out.missing = true;
    else {
      out.skipped.push({ file: opts.dir, message: `refused: ${dirBad.reason}` });
      refused.push({ file: opts.dir, reason: dirBad.reason });
    }
    return done();
  }
  let names: string[];
  try {
    names = readdirSync(opts.dir).filter((n) => n.endsWith(".json")).sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") out.missing = true;
    else out.skipped.push({ file: opts.dir, message: `cannot list directory: ${(e as Error).message}` });
    return done();
  }
  const skip = (file: string, message: string) => {
    out.skipped.push({ file, message });
    opts.log?.warn(`${file}: skipped: ${message}`, skipFields(file, message));
  };

  for (const n of names) {
    const file = join(opts.dir, n);
    const read = readConfigFile(file, trust);
    if (!read.ok) {
      if (read.missing) continue; // removed since the listing
      refused.push({ file, reason: read.reason });
      skip(file, `refused: ${read.reason}`);
      continue;
    }
    const text = read.text;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      skip(file, `not valid JSON: ${(e as Error).message}`);
      continue;
    }
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      skip(file, "must hold one JSON object");
      continue;
    }
    const r = parseDropin(opts, raw as Record<string, unknown>);
    if (!r.ok) {
      skip(file, r.message);
      continue;
    }
    const name = opts.nameOf(r.value);
    const dup = out.entries.get(name);
    if (dup) {
      skip(file, `field name: "${name}" is already defined by ${dup.file}`);
      continue;
    }
    out.entries.set(name, { file, value: r.value, text });
  }
  return done();
}

/**
 * Call `onChange` (debounced) when files in `dir` change, including the directory being deleted
 * and created again. Returns the disposer that releases the watcher and timers.
 */
export function watchDir(dir: string, onChange: () => void, debounceMs = 200): () => void {
  let watcher: FSWatcher | null = null;
  let debounce: ReturnType<typeof setTimeout> | null = null;
  let poll: ReturnType<typeof setInterval> | null = null;
  let disposed = false;
  const fire = () => {
    if (disposed) return;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = null;
      if (!disposed) onChange();
    }, debounceMs);
  };
  const exists = () => {
    try {
      return statSync(dir).isDirectory();
    } catch {
      return false;
    }
  };
  const startPoll = () => {
    if (poll || disposed) return;
    // The directory is gone (or never was): look for it every second, then watch it again.
    poll = setInterval(() => {
      if (exists()) {
        clearInterval(poll!);
        poll = null;
        arm();
        fire();
      }
    }, 1000);
  };
  const arm = () => {
    if (disposed) return;
    try {
      watcher = watch(dir, () => {
        fire();
        if (!exists()) {
          watcher?.close();
          watcher = null;
          startPoll();
        }
      });
      watcher.on("error", () => {
        watcher?.close();
        watcher = null;
        fire();
        startPoll();
      });
    } catch {
      startPoll();
    }
  };
  arm();
  return () => {
    disposed = true;
    watcher?.close();
    if (debounce) clearTimeout(debounce);
    if (poll) clearInterval(poll);
  };
}
