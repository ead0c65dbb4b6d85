// Wire shapes of the dev-only `exec` request (params, result, stream events); the host imports these.

import { Type, type Static } from "@sinclair/typebox";
import type { RequestTable, RequestTypes } from "../../agent/plugin.ts";

// Schemas are built inside /* @__PURE__ */ closures so that a production bundle, which never uses
// them, drops them with the rest of the plugin (TypeBox calls would otherwise count as side effects).

/** Default `timeout_secs`. */
export const DEFAULT_EXEC_TIMEOUT_SECS = 60;
/** Default `max_output_bytes` (per stream). */
export const DEFAULT_EXEC_MAX_OUTPUT_BYTES = 1024 * 1024;
/** Largest `max_output_bytes` a client may ask for (per stream). */
export const MAX_EXEC_OUTPUT_BYTES = 64 * 1024 * 1024;
/** Largest `timeout_secs` (one day). */
export const MAX_EXEC_TIMEOUT_SECS = 86_400;

/**
 * `exec` params. Exactly one of `argv` (run directly) and `command` (run with `/bin/sh -c`);
 * at most one of `stdin` and `stdin_base64`.
 * @example { "argv": ["ls", "-l", "/etc"], "timeout_secs": 10 }
 * @example { "command": "make test 2>&1", "cwd": "/src", "stream": true }
 */
export const ExecParams = /* @__PURE__ */ (() =>
  Type.Object(
    {
      argv: Type.Optional(Type.Array(Type.String(), { minItems: 1, maxItems: 65_536, description: "Program and arguments, run without a shell" })),
      command: Type.Optional(Type.String({ minLength: 1, description: "A shell command line, run with /bin/sh -c" })),
      env: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "Variables added to the agent's environment" })),
      cwd: Type.Optional(Type.String({ minLength: 1, description: "Working directory (must exist)" })),
      stdin: Type.Optional(Type.String({ description: "Text written to the command's stdin, which is then closed" })),
      stdin_base64: Type.Optional(Type.String({ description: "Bytes (base64) written to stdin, which is then closed" })),
      timeout_secs: Type.Optional(
        Type.Number({
          exclusiveMinimum: 0,
          maximum: MAX_EXEC_TIMEOUT_SECS,
          default: DEFAULT_EXEC_TIMEOUT_SECS,
          description: "Kill the whole process group after this long (default 60)",
        }),
      ),
      max_output_bytes: Type.Optional(
        Type.Integer({
          minimum: 0,
          maximum: MAX_EXEC_OUTPUT_BYTES,
          default: DEFAULT_EXEC_MAX_OUTPUT_BYTES,
          description: "Bytes kept (or streamed) per stream (default 1 MiB)",
        }),
      ),
      stream: Type.Optional(Type.Boolean({ description: "Send stdout/stderr events as output is produced" })),
      encoding: Type.Optional(
        Type.Union([Type.Literal("utf8"), Type.Literal("base64")], { description: "How output is carried: UTF-8 text (default) or base64 bytes" }),
      ),
    },
    { additionalProperties: false },
  ))();
export type ExecParams = Static<typeof ExecParams>;

/** `exec` result. With `stream: true`, `stdout` and `stderr` are "" (the text went out as events). */
export const ExecResult = /* @__PURE__ */ (() =>
  Type.Object(
    {
      exit_code: Type.Union([Type.Integer(), Type.Null()], { description: "null when killed by a signal" }),
      signal: Type.Union([Type.String(), Type.Null()], { description: "SIGKILL after a timeout, or the signal that ended it" }),
      timed_out: Type.Boolean(),
      stdout: Type.String(),
      stderr: Type.String(),
      stdout_truncated: Type.Boolean(),
      stderr_truncated: Type.Boolean(),
      stdout_bytes: Type.Integer({ description: "Bytes the command wrote, kept or not" }),
      stderr_bytes: Type.Integer(),
      duration_ms: Type.Number(),
    },
    { additionalProperties: false },
  ))();
export type ExecResult = Static<typeof ExecResult>;

/** Names of the events a streaming `exec` sends before its answer. */
export type ExecEventName = "stdout" | "stderr";
/** `data` of a `stdout`/`stderr` event: a chunk of text, or of base64 with `encoding: "base64"`. */
export const ExecEventData = /* @__PURE__ */ (() => Type.String())();

/** The exec plugin's requests (agent: plugins/exec/exec.ts; host: plugins/requests.ts). Unused, and dropped, in production bundles. */
export const execRequests = {
  exec: {
    params: ExecParams,
    result: ExecResult,
    description: "Dev builds only: run a command (argv, or /bin/sh -c) in its own process group; output capped or streamed.",
    deadlineParam: "timeout_secs",
    events: { stdout: ExecEventData, stderr: ExecEventData },
    work: true,
  },
} satisfies RequestTable;

declare module "../../agent/plugin.ts" {
  interface AgentRequests extends RequestTypes<typeof execRequests> {}
}
