// Exec and FsDiff: the native exec and fs-diff answers, cut to fit the dialect's 256 KiB frame cap.

import type { Static } from "@sinclair/typebox";
import { bodyLength } from "../../agent/frame.ts";
import type { ResultOf } from "../../agent/plugin.ts";
import { codeOf, failedCall, mvmError, type VerbDeps } from "./context.ts";
import type { ExecAnswer, ExecPayload, FsDiffAnswer, MvmError, MvmFsChange } from "./schemas.ts";
import { fitJsonString, jsonBytes } from "./text.ts";

/** The original's default (it ignored the value; we enforce it). */
export const MVM_EXEC_DEFAULT_TIMEOUT_SECS = 30;
const MAX_TIMEOUT_SECS = 86_400;
/** Appended to a stream that was cut, as the original does. */
export const TRUNCATED_MARK = "\n... (truncated)";
/** Room for `{"ExecResult":{"exit_code":-2147483648,"stdout":,"stderr":}}` and the reason line. */
const EXEC_RESERVE = 512;

/** Fit two strings into `budget` bytes of JSON: the smaller keeps all it can, the other gets the rest. */
function fitPair(a: string, b: string, budget: number): [string, string] {
  const half = Math.floor(budget / 2);
  const [ja, jb] = [jsonBytes(a), jsonBytes(b)];
  if (ja + jb <= budget) return [a, b];
  if (ja <= half) return [a, fitJsonString(b, budget - ja)];
  if (jb <= half) return [fitJsonString(a, budget - jb), b];
  return [fitJsonString(a, half), fitJsonString(b, budget - half)];
}

/**
 * `{"Exec":{"command","stdin","timeout_secs"}}` -> exec with `/bin/sh -c`. exit_code is -1 when a
 * signal ended the command (a timeout kills its process group) or it could not start, with the
 * reason at the end of stderr. Output is cut on character boundaries to fit the cap.
 */
export async function execVerb(d: VerbDeps, p: ExecPayload): Promise<Static<typeof ExecAnswer> | MvmError> {
  const asked = p.timeout_secs ?? 0;
  const timeout = asked === 0 ? MVM_EXEC_DEFAULT_TIMEOUT_SECS : Math.min(asked, MAX_TIMEOUT_SECS);
  const perStream = Math.max(0, Math.floor((d.maxFrameBytes - EXEC_RESERVE) / 2));
  const params: Record<string, unknown> = { command: p.command, timeout_secs: timeout, max_output_bytes: perStream };
  if (p.stdin !== null && p.stdin !== undefined) params.stdin = p.stdin;
  let r: ResultOf<"exec">;
  try {
    r = await d.ctx.call("exec", params, { signal: d.signal });
  } catch (e) {
    const code = codeOf(e);
    if (code === "E_UNKNOWN_REQUEST") return mvmError("Exec is not available: this agent is a production build (or was started with --no-exec)");
    if (code === "E_NOT_FOUND" || code === "E_UNAVAILABLE")
      return { ExecResult: { exit_code: -1, stdout: "", stderr: `failed to execute: ${(e as Error).message}` } };
    if (code === "E_INVALID_PARAMS") return mvmError(`malformed request: Exec: ${(e as Error).message}`);
    return failedCall(d, "Exec", "exec", e);
  }
  const reason = r.timed_out
    ? `\nkilled by ${r.signal ?? "SIGKILL"}: timed out after ${timeout}s`
    : r.exit_code === null
      ? `\nkilled by ${r.signal ?? "a signal"}`
      : "";
  const budget = d.maxFrameBytes - EXEC_RESERVE - 2 * jsonBytes(TRUNCATED_MARK) - jsonBytes(reason);
  let [out, err] = fitPair(r.stdout, r.stderr, budget);
  const outCut = r.stdout_truncated || out.length < r.stdout.length;
  const errCut = r.stderr_truncated || err.length < r.stderr.length;
  if (out.length < r.stdout.length || err.length < r.stderr.length)
    d.ctx.log.info(`Exec: output cut to ${Buffer.byteLength(out)} + ${Buffer.byteLength(err)} bytes to fit the mvm frame cap of ${d.maxFrameBytes} bytes`);
  if (outCut) out += TRUNCATED_MARK;
  if (errCut) err += TRUNCATED_MARK;
  return { ExecResult: { exit_code: r.exit_code ?? -1, stdout: out, stderr: err + reason } };
}

/** Byte order of UTF-8 paths (the original sorts by path bytes). */
function byPath(a: MvmFsChange, b: MvmFsChange): number {
  return Buffer.compare(Buffer.from(a.path), Buffer.from(b.path));
}

/** Most pages of fs-diff read for one answer (each page is a frame of the agent's own cap). */
const MAX_PAGES = 10_000;

/**
 * `"FsDiff"` -> fs-diff, paged through `next_cursor` until the answer is full. When the changes do
 * not fit the cap, the answer keeps those that do and one console line says it was cut and why.
 */
export async function fsDiffVerb(d: VerbDeps): Promise<Static<typeof FsDiffAnswer> | MvmError> {
  const budget = d.maxFrameBytes - bodyLength({ FsDiffResult: { changes: [] } });
  const changes: MvmFsChange[] = [];
  let used = 0;
  let cursor: string | null = null;
  let cutAt: string | null = null;
  let unreadable = 0;
  let firstError = "";
  for (let page = 0; page < MAX_PAGES; page++) {
    let r: ResultOf<"fs-diff">;
    try {
      r = await d.ctx.call("fs-diff", cursor === null ? {} : { cursor }, { signal: d.signal });
    } catch (e) {
      if (codeOf(e) === "E_UNAVAILABLE") return mvmError(`FsDiff is not available: ${(e as Error).message}`);
      return failedCall(d, "FsDiff", "fs-diff", e);
    }
    unreadable += r.errors.length;
    if (!firstError && r.errors[0]) firstError = `${r.errors[0].path}: ${r.errors[0].message}`;
    for (const c of r.changes) {
      const entry: MvmFsChange = { path: c.path, kind: c.kind, size: c.kind === "deleted" ? 0 : c.size };
      const cost = bodyLength(entry) + (changes.length ? 1 : 0);
      if (used + cost > budget) {
        cutAt = c.path;
        break;
      }
      used += cost;
      changes.push(entry);
    }
    cursor = r.next_cursor;
    if (cutAt !== null || cursor === null) break;
  }
  if (cutAt !== null || cursor !== null) {
    d.ctx.log.warn(
      `FsDiff: answer cut to ${changes.length} changes (${used} bytes): the next change${cutAt ? ` (${JSON.stringify(cutAt)})` : ""} would pass the ` +
        `mvm frame cap of ${d.maxFrameBytes} bytes that the original host tools read; the native fs-diff request pages through every change`,
    );
  }
  if (unreadable) d.ctx.log.warn(`FsDiff: ${unreadable} path(s) could not be read and are not in the answer (first: ${firstError})`);
  changes.sort(byPath);
  return { FsDiffResult: { changes } };
}
