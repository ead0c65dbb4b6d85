// The `fs-diff` request: filters, paging by limit and by the frame cap, summary and cursor.

import picomatch from "picomatch";
import { AgentError } from "../../agent/errors.ts";
import type { Layers } from "./layers.ts";
import { decodeCursor, encodeCursor } from "./order.ts";
import { DEFAULT_LIMIT, type FsChange, type FsDiffParams, type FsDiffResult, type WalkError } from "./schemas.ts";
import { walkUpper, type WalkPort } from "./walk.ts";

type Matcher = (path: string) => boolean;

/** picomatch options: dotfiles match, and `*`/`**` match names holding newlines. */
const GLOB_OPTS: picomatch.PicomatchOptions = { dot: true, flags: "s" };

/** Compiled exclude globs: the matcher, and a pruner for `DIR/**` patterns (skip the whole subtree). */
export interface ExcludeSet {
  match: Matcher;
  prune: Matcher;
  patterns: string[];
}

function compileGlobs(patterns: string[], field: string): Matcher {
  try {
    return picomatch(patterns, GLOB_OPTS);
  } catch (e) {
    throw new AgentError("E_INVALID_PARAMS", `${field}: bad glob (${(e as Error).message})`, [{ path: `/${field}`, message: (e as Error).message }]);
  }
}

/**
 * Compile exclude globs once. A pattern `X/**` also prunes: a directory matching X is not entered.
 * @example compileExcludes(["/tmp/**"]).prune("/tmp/cache") // true
 */
export function compileExcludes(patterns: string[], field = "exclude"): ExcludeSet {
  const none = () => false;
  if (patterns.length === 0) return { match: none, prune: none, patterns };
  const match = compileGlobs(patterns, field);
  const heads = patterns.filter((p) => p.endsWith("/**") && p.length > 3).map((p) => p.slice(0, -3));
  const prune = heads.length ? compileGlobs(heads, field) : none;
  return { match, prune, patterns };
}

export interface DiffDeps {
  /** Resolve the layers now (throws E_UNAVAILABLE). */
  layers(): Layers;
  /** Excludes used when the request gives none (from agent.json), compiled at plugin creation. */
  defaultExclude: ExcludeSet;
  port?: WalkPort;
  /** Give the event loop a turn every this many items (default 2048). */
  yieldEvery?: number;
}

export interface DiffContext {
  maxFrameBytes: number;
  signal?: AbortSignal;
}

/** Room kept for the envelope around the result (`{"id":…,"type":"fs-diff","ok":true,"result":…}`) and the summary. */
const ENVELOPE_RESERVE = 1024;

function bytes(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/** True when every unit is printable ASCII other than `"` and `\\`: JSON and UTF-8 keep the string as is. */
function plain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** Bytes of a string as JSON (quotes included); the common printable-ASCII case without stringify. */
function jsonStringBytes(s: string): number {
  return plain(s) ? s.length + 2 : bytes(JSON.stringify(s));
}

/** Bytes of a change as JSON.stringify writes it: {"path":…,"kind":"…","type":"…","size":N}. */
export function changeBytes(c: FsChange): number {
  return 37 + jsonStringBytes(c.path) + c.kind.length + c.type.length + String(c.size).length;
}

/** Base64 length of a cursor for this key, plus its quotes. */
function cursorBytes(key: string): number {
  const n = plain(key) ? key.length : bytes(key);
  return Math.ceil((n + 3) / 3) * 4 + 2;
}

/** At least cursorBytes(key), from its length alone (a UTF-16 unit is at most three UTF-8 bytes). */
function cursorBound(key: string): number {
  return (key.length + 1) * 4 + 2;
}

/** Errors a count-mode answer keeps (the rest are counted in `errors_omitted`): the answer stays small whatever the tree. */
export const SUMMARY_MAX_ERRORS = 100;

/** The walk of one request: the upper dir in path order after `after`, subtrees pruned by the excludes. */
function openWalk(layers: Layers, deps: DiffDeps, exclude: ExcludeSet, after?: string) {
  const { upper, lowers, lowerKnown, work, xattrPrefix } = layers;
  return walkUpper({ upper, lowers, lowerKnown, work, xattrPrefix, after, prune: exclude.prune, port: deps.port });
}

/** Give the event loop a turn; a request whose client went away (or an agent stopping) ends here. */
async function breathe(ctx: DiffContext): Promise<void> {
  await new Promise<void>((r) => setImmediate(r));
  if (ctx.signal?.aborted) throw new AgentError("E_TIMEOUT", "fs-diff cancelled: the client went away or the agent is stopping");
}

/** A path the request's filters leave out (exclude beats include). */
function filteredOut(path: string, exclude: ExcludeSet, include: Matcher | undefined): boolean {
  return exclude.match(path) || (include !== undefined && !include(path));
}

/** Add one change to a summary (`bytes`: created and modified sizes). */
function count(summary: FsDiffResult["summary"], c: FsChange): void {
  summary[c.kind]++;
  if (c.kind !== "deleted") summary.bytes += c.size;
}

/**
 * Answer one page of the diff. Every entry appears exactly once across pages; a page ends at
 * `limit` changes or when the next item would push the answer past the frame cap. With
 * `summary_only`, the whole walk is counted instead and no change is listed.
 */
export async function fsDiff(params: FsDiffParams, ctx: DiffContext, deps: DiffDeps): Promise<FsDiffResult> {
  if (params.summary_only) return fsDiffSummary(params, ctx, deps);
  const after = params.cursor !== undefined ? decodeCursor(params.cursor) : undefined;
  const include = params.include?.length ? compileGlobs(params.include, "include") : undefined;
  const exclude = params.exclude !== undefined ? compileExcludes(params.exclude) : deps.defaultExclude;
  const limit = params.limit ?? DEFAULT_LIMIT;
  const layers = deps.layers();

  const changes: FsChange[] = [];
  const errors: WalkError[] = [];
  const summary = { created: 0, modified: 0, deleted: 0, bytes: 0 };
  const fixed =
    ENVELOPE_RESERVE + bytes(JSON.stringify(layers.upper)) + '"upper_dir":,"lower_known":false,"changes":[],"summary":{},"errors":[],"next_cursor":'.length;
  let used = 0;
  let lastKey: string | undefined;
  let more = false;
  let tooBig: string | undefined;
  let n = 0;
  const yieldEvery = deps.yieldEvery ?? 2048;

  for (const item of openWalk(layers, deps, exclude, after)) {
    if (++n % yieldEvery === 0) await breathe(ctx);
    if (item.change && filteredOut(item.change.path, exclude, include)) continue;
    const cost = (item.change ? changeBytes(item.change) : bytes(JSON.stringify(item.error))) + 1;
    // The exact cursor size only near the end of a page: while its bound fits, the cursor does.
    const room = ctx.maxFrameBytes - fixed - used - cost;
    if ((item.change && changes.length >= limit) || (cursorBound(item.key) > room && cursorBytes(item.key) > room)) {
      more = true;
      if (changes.length + errors.length === 0) tooBig = item.change?.path ?? item.error?.path;
      break;
    }
    used += cost;
    lastKey = item.key;
    if (item.error) {
      errors.push(item.error);
      continue;
    }
    changes.push(item.change);
    count(summary, item.change);
  }
  if (tooBig !== undefined) {
    throw new AgentError(
      "E_RESULT_TOO_LARGE",
      `the entry for ${JSON.stringify(tooBig)} alone does not fit in the frame cap of ${ctx.maxFrameBytes} bytes; raise --max-frame-bytes`,
    );
  }
  return {
    upper_dir: layers.upper,
    lower_known: layers.lowerKnown,
    changes,
    summary,
    errors,
    next_cursor: more && lastKey !== undefined ? encodeCursor(lastKey) : null,
  };
}

/**
 * Count mode (`summary_only: true`): the summary of every change of the whole walk, filters applied,
 * holding no change in memory; the first SUMMARY_MAX_ERRORS errors, the rest counted.
 * @example await fsDiff({ summary_only: true }, ctx, deps) // { changes: [], summary: { created: 3, modified: 1, deleted: 1, bytes: 212 }, ... }
 */
async function fsDiffSummary(params: FsDiffParams, ctx: DiffContext, deps: DiffDeps): Promise<FsDiffResult> {
  const clash = (["limit", "cursor"] as const).filter((k) => params[k] !== undefined);
  if (clash.length) {
    const message = `summary_only counts the whole walk: it takes no ${clash.join(" or ")}`;
    throw new AgentError("E_INVALID_PARAMS", `invalid params for "fs-diff": ${message}`, clash.map((k) => ({ path: `/${k}`, message })));
  }
  const include = params.include?.length ? compileGlobs(params.include, "include") : undefined;
  const exclude = params.exclude !== undefined ? compileExcludes(params.exclude) : deps.defaultExclude;
  const layers = deps.layers();
  const summary = { created: 0, modified: 0, deleted: 0, bytes: 0 };
  const errors: WalkError[] = [];
  let omitted = 0;
  let n = 0;
  let used = 0;
  // The answer is the summary and these errors: keep them within the frame, whatever the frame cap.
  const budget = ctx.maxFrameBytes - ENVELOPE_RESERVE - 2 * bytes(JSON.stringify(layers.upper)) - 256;
  const yieldEvery = deps.yieldEvery ?? 2048;
  for (const item of openWalk(layers, deps, exclude)) {
    if (++n % yieldEvery === 0) await breathe(ctx);
    if (item.error) {
      const cost = bytes(JSON.stringify(item.error)) + 1;
      if (errors.length < SUMMARY_MAX_ERRORS && used + cost <= budget) {
        errors.push(item.error);
        used += cost;
      } else omitted++;
      continue;
    }
    if (!filteredOut(item.change.path, exclude, include)) count(summary, item.change);
  }
  const result: FsDiffResult = { upper_dir: layers.upper, lower_known: layers.lowerKnown, changes: [], summary, errors, next_cursor: null };
  if (omitted) result.errors_omitted = omitted;
  return result;
}
