// Files the agent reads: agent.json, drop-in directories (*.d/*.json) validated with zod, and their watch.

import { readdirSync, statSync, watch, type FSWatcher } from "node:fs";
import { dirname, join } from "node:path";
import type { z } from "zod";
import { configDirProblem, readConfigFile, type ConfigFiles, type ConfigRefusal } from "./config-file.ts";
import type { Logger } from "./log.ts";

/** `field health_interval_secs: Too small: expected number to be >=1; field name: Required` */
export function zodIssuesText(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `field ${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ");
}

/** Keys of `value` that an object schema does not know (warned about, not rejected). */
export function unknownKeys(schema: z.ZodObject, value: unknown): string[] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return [];
  const known = new Set(Object.keys(schema.shape));
  return Object.keys(value).filter((k) => !known.has(k));
}

/**
 * Read `<configDir>/agent.json` through the safe open (agent/config-file.ts). Missing -> {}; refused,
 * unreadable or not an object -> {} and one console line naming the file (refusals also go to `files`
 * for `status`). Plugins validate their own sections.
 */
export function readAgentFile(configDir: string, log: Logger, files?: ConfigFiles): Record<string, unknown> {
  const file = join(configDir, "agent.json");
  const r = readConfigFile(file, { root: configDir, files });
  files?.setRefused(file, r.ok || r.missing ? [] : [{ file, reason: r.reason }]);
  if (!r.ok) {
    if (!r.missing) log.warn(`${file}: refused: ${r.reason}; using defaults`);
    return {};
  }
  const text = r.text;
  try {
    const v = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
    log.warn(`${file}: must hold a JSON object; using defaults`);
  } catch (e) {
    log.warn(`${file}: not valid JSON (${(e as Error).message}); using defaults`);
  }
  return {};
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

export interface DropinProblem {
  file: string;
  message: string;
}

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
  /** The config dir symlinks may not leave (default: the drop-in dir's parent). */
  root?: string;
  /** The agent's trust policy and refusal book (default: strict, nothing recorded). */
  files?: ConfigFiles;
}

/**
 * Load every `*.json` of a drop-in directory in name order, each through the safe open
 * (agent/config-file.ts). A file that is refused (symlink out, not regular, too big, writable by
 * others, foreign owner), not JSON, fails the schema, or repeats a name is skipped with one line
 * naming the file and the reason; unknown keys are a warning. Refusals are recorded in `files` for
 * `status`. A refused directory is one problem whose `file` is the directory. Never throws.
 */
export function loadDropins<S extends z.ZodObject>(opts: DropinOptions<S>): DropinLoad<z.output<S>> {
  const out: DropinLoad<z.output<S>> = { entries: new Map(), skipped: [], missing: false };
  const trust = { root: opts.root ?? dirname(opts.dir), files: opts.files };
  const refused: ConfigRefusal[] = [];
  const done = () => {
    opts.files?.setRefused(opts.dir, refused);
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
    opts.log?.warn(`${file}: skipped: ${message}`);
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
    const prepared = opts.prepare ? opts.prepare(raw as Record<string, unknown>) : (raw as Record<string, unknown>);
    const r = opts.schema.safeParse(prepared);
    if (!r.success) {
      skip(file, zodIssuesText(r.error.issues));
      continue;
    }
    const name = opts.nameOf(r.data);
    const dup = out.entries.get(name);
    if (dup) {
      skip(file, `field name: "${name}" is already defined by ${dup.file}`);
      continue;
    }
    const extra = unknownKeys(opts.schema, prepared);
    if (extra.length) opts.log?.warn(`${file}: unknown key(s) ignored: ${extra.join(", ")}`);
    out.entries.set(name, { file, value: r.data, text });
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
