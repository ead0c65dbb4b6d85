// Files the agent reads: drop-in directories (*.d/*.json) validated with zod, and their watch. agent.json is
// agent/agent-file.ts and the keys every file shares agent/config-keys.ts (both re-exported here).

import { readdirSync, statSync, watch, type FSWatcher } from "node:fs";
import { dirname, join } from "node:path";
import type { z } from "zod";
import { configDirProblem, readConfigFile, type ConfigFiles, type ConfigRefusal, type SkippedFile } from "./config-file.ts";
import { skipFields, unknownKeyProblems, withoutExtensions, zodIssuesText } from "./config-keys.ts";
import type { Logger } from "./log.ts";

export { EXTENSION_KEY, fileSecs, MAX_FILE_SECS, skipFields, strictJsonSchema, unknownKeyProblems, withoutExtensions, zodIssuesText } from "./config-keys.ts";
export { agentFileProblems, parseSection, readAgentFile, type AgentFileSpec } from "./agent-file.ts";

export interface DropinEntry<T> {
  file: string;
  value: T;
  /** The file's text, to tell changed entries from unchanged ones on reload. */
  text: string;
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
