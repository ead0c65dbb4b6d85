// The exec plugin: runs a client's command through the shared runner, streams or caps its output, audits it.

import { statSync } from "node:fs";
import type { CommandResult } from "../../agent/command.ts";
import { AgentError } from "../../agent/errors.ts";
import { bodyLength } from "../../agent/frame.ts";
import { defineRequests, type AgentPlugin, type RequestContext } from "../../agent/plugin.ts";
import { fitOutput, StreamPieces, type OutputEncoding } from "./output.ts";
import {
  DEFAULT_EXEC_MAX_OUTPUT_BYTES,
  DEFAULT_EXEC_TIMEOUT_SECS,
  execRequests,
  type ExecEventName,
  type ExecParams,
  type ExecResult,
} from "./schemas.ts";

/** A string found only in this plugin's code; the build test greps binaries for it. */
export const EXEC_MARKER = "mvm-exec-plugin-7c41d2";

/** Longest argv/command text in an audit line. */
const AUDIT_TEXT_MAX = 300;

interface Running {
  label: string;
  abort: AbortController;
  done: Promise<unknown>;
}

/**
 * The dev-only `exec` request. Each command gets its own process group; a timeout, a client that
 * goes away, or the agent stopping kills the whole group.
 * @example
 * createAgent({ plugins: [execPlugin()] }).dispatch({ type: "exec", id: 1, params: { argv: ["uname", "-a"] } });
 */
export function execPlugin(): AgentPlugin {
  const running = new Set<Running>();
  let served = 0;
  let timedOut = 0;

  async function handle(p: ExecParams, req: RequestContext): Promise<ExecResult> {
    const pctx = req.plugin;
    const spec = checkParams(p);
    const encoding: OutputEncoding = p.encoding ?? "utf8";
    const maxBytes = p.max_output_bytes ?? DEFAULT_EXEC_MAX_OUTPUT_BYTES;
    const timeoutMs = Math.round((p.timeout_secs ?? DEFAULT_EXEC_TIMEOUT_SECS) * 1000);
    const label = auditLabel(p);

    const abort = new AbortController();
    const onClientGone = () => abort.abort();
    req.signal.addEventListener("abort", onClientGone, { once: true });
    if (req.signal.aborted) abort.abort();

    let streams: Record<ExecEventName, StreamPieces> | undefined;
    const send = (event: ExecEventName, pieces: string[]) => {
      for (const piece of pieces) {
        try {
          req.emit(event, piece);
        } catch {
          // The client is gone; its abort kills the command.
          return;
        }
      }
    };
    if (p.stream) {
      const budget = req.maxFrameBytes - bodyLength({ id: req.id, type: req.type, event: "stdout", data: "" });
      streams = { stdout: new StreamPieces(encoding, maxBytes, budget), stderr: new StreamPieces(encoding, maxBytes, budget) };
    }

    const run = pctx.runCommand({
      ...spec,
      timeoutMs,
      // Streamed output is not kept: it already went to the client. Kept output beyond one frame
      // could never be sent, so it is not kept either (each kept byte costs at least one JSON byte).
      maxOutputBytes: streams ? 0 : Math.min(maxBytes, req.maxFrameBytes),
      cutUtf8: encoding === "utf8",
      signal: abort.signal,
      // Each event waits for the client to read: unread output blocks the command on its pipe.
      onOutput: streams
        ? (name, chunk) => {
            send(name, streams![name].push(chunk));
            return req.writable();
          }
        : undefined,
    });
    const entry: Running = { label, abort, done: run };
    running.add(entry);
    let r: CommandResult;
    try {
      r = await run;
    } finally {
      running.delete(entry);
      req.signal.removeEventListener("abort", onClientGone);
    }
    served++;
    if (r.timed_out) timedOut++;
    pctx.log.info(`exec ${label} -> ${outcome(r, timeoutMs, req.signal.aborted)} in ${Math.round(r.duration_ms)} ms`, {
      ...(req.id !== undefined ? { id: req.id } : {}),
      ...(p.cwd !== undefined ? { cwd: p.cwd } : {}),
    });
    if (r.spawn_error && !r.aborted) {
      const missing = r.spawn_error.startsWith("ENOENT");
      throw new AgentError(
        missing ? "E_NOT_FOUND" : "E_UNAVAILABLE",
        `cannot start ${spec.argv?.[0] ?? "/bin/sh"}: ${r.spawn_error}`,
      );
    }

    const base = {
      exit_code: r.exit_code,
      signal: r.signal,
      timed_out: r.timed_out,
      stdout_bytes: r.stdout_bytes,
      stderr_bytes: r.stderr_bytes,
      duration_ms: r.duration_ms,
    };
    if (streams) {
      send("stdout", streams.stdout.end());
      send("stderr", streams.stderr.end());
      return { ...base, stdout: "", stderr: "", stdout_truncated: streams.stdout.truncated, stderr_truncated: streams.stderr.truncated };
    }
    // Keep the answer within the frame cap: what does not fit is cut (and flagged), never lost silently.
    const shell = { ...base, stdout: "", stderr: "", stdout_truncated: false, stderr_truncated: false }; // "false" is the longer
    const budget = req.maxFrameBytes - bodyLength({ id: req.id, type: req.type, ok: true, result: shell });
    const fitted = fitOutput(r.stdout, r.stderr, encoding, budget);
    return {
      ...base,
      stdout: fitted.stdout,
      stderr: fitted.stderr,
      stdout_truncated: r.stdout_truncated || fitted.stdoutCut,
      stderr_truncated: r.stderr_truncated || fitted.stderrCut,
    };
  }

  return {
    name: "exec",
    requests: defineRequests(execRequests, { exec: handle }),
    async stop() {
      const all = [...running];
      for (const r of all) r.abort.abort();
      await Promise.allSettled(all.map((r) => r.done));
    },
    status: () => ({ marker: EXEC_MARKER, running: running.size, served, timed_out: timedOut }),
  };
}

/** The runner spec from checked params; what the schema cannot say is checked here. */
function checkParams(p: ExecParams): { argv?: string[]; command?: string; env?: Record<string, string>; cwd?: string; stdin?: string | Uint8Array } {
  const bad = (path: string, message: string): never => {
    throw new AgentError("E_INVALID_PARAMS", `invalid params for "exec": ${path} ${message}`, [{ path, message }]);
  };
  if ((p.argv === undefined) === (p.command === undefined)) bad("/", "give exactly one of argv (run directly) and command (run with /bin/sh -c)");
  if (p.argv) {
    if (p.argv[0] === "") bad("/argv/0", "the program must not be empty");
    p.argv.forEach((a, i) => a.includes("\0") && bad(`/argv/${i}`, "must not contain NUL"));
  }
  if (p.command?.includes("\0")) bad("/command", "must not contain NUL");
  for (const [k, v] of Object.entries(p.env ?? {})) {
    if (k === "" || k.includes("=") || k.includes("\0")) bad(`/env/${k}`, "a variable name must be non-empty, without = or NUL");
    if (v.includes("\0")) bad(`/env/${k}`, "must not contain NUL");
  }
  if (p.cwd !== undefined) {
    let isDir = false;
    try {
      isDir = statSync(p.cwd).isDirectory();
    } catch {
      bad("/cwd", `no such directory: ${p.cwd}`);
    }
    if (!isDir) bad("/cwd", `not a directory: ${p.cwd}`);
  }
  if (p.stdin !== undefined && p.stdin_base64 !== undefined) bad("/", "give at most one of stdin and stdin_base64");
  let stdin: string | Uint8Array | undefined = p.stdin;
  if (p.stdin_base64 !== undefined) {
    if (p.stdin_base64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(p.stdin_base64)) bad("/stdin_base64", "is not valid base64");
    stdin = Buffer.from(p.stdin_base64, "base64");
  }
  return { argv: p.argv, command: p.command, env: p.env, cwd: p.cwd, stdin };
}

function auditLabel(p: ExecParams): string {
  const text = p.argv ? `argv=${JSON.stringify(p.argv)}` : `command=${JSON.stringify(p.command)}`;
  return text.length > AUDIT_TEXT_MAX ? `${text.slice(0, AUDIT_TEXT_MAX)}…` : text;
}

function outcome(r: CommandResult, timeoutMs: number, clientGone: boolean): string {
  if (r.spawn_error) return r.aborted ? "cancelled before start" : `failed to start: ${r.spawn_error}`;
  if (r.timed_out) return `timed out after ${timeoutMs / 1000}s (process group killed)`;
  if (r.aborted) return clientGone ? "cancelled: the client went away (process group killed)" : "cancelled: the agent is stopping (process group killed)";
  if (r.signal) return `killed by ${r.signal}`;
  return `exit ${r.exit_code}`;
}
