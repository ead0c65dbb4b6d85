// What HTTP status a failed agent call becomes at the bridge: the agent's wire codes (a plugin may throw any of
// them), the client's codes, and the bridge's own answer class (HttpFail). docs/bridge.md and docs/plugins.md show the table.

import { ERROR_CODES, type ErrorCode } from "../../agent/errors.ts";
import { CLIENT_ERROR_CODES } from "../client/errors.ts";
import type { HttpError } from "./types.ts";

export type HttpStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 500 | 502 | 503 | 504;

/** An answer the bridge gives instead of a result: `{code, message, data?}` with an HTTP status. */
export class HttpFail extends Error {
  constructor(
    readonly status: HttpStatus,
    readonly code: string,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }

  body(): HttpError {
    return this.data === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, data: this.data };
  }
}

/**
 * The HTTP status of each code an agent (a plugin's handler, or the core) answers with. Typed over the
 * whole catalog: a new wire code does not compile until it has a status here.
 */
export const AGENT_CODE_STATUS = {
  E_BAD_FRAME: 502,
  E_FRAME_TOO_LARGE: 413,
  E_BAD_REQUEST: 400,
  E_UNKNOWN_REQUEST: 404,
  E_INVALID_PARAMS: 400,
  E_RESULT_TOO_LARGE: 502,
  E_BUSY: 409,
  E_TIMEOUT: 504,
  E_UNAVAILABLE: 503,
  E_NOT_FOUND: 404,
  E_INTERNAL: 502,
} as const satisfies Record<ErrorCode, HttpStatus>;

/** Why each agent code gets its status, for the docs' table. */
export const AGENT_CODE_WHY: Record<ErrorCode, string> = {
  E_BAD_FRAME: "the bridge's own frame was refused: an upstream failure",
  E_FRAME_TOO_LARGE: "the params are over the agent's frame cap",
  E_BAD_REQUEST: "the request was malformed",
  E_UNKNOWN_REQUEST: "no plugin of that agent serves the request",
  E_INVALID_PARAMS: "the body fails the request's params schema (`data`: `[{path, message}]`)",
  E_RESULT_TOO_LARGE: "the answer would not fit a frame: page it",
  E_BUSY: "a conflicting operation is in progress",
  E_TIMEOUT: "the agent's own deadline passed",
  E_UNAVAILABLE: "the plugin is not running, or the capability cannot work in that guest",
  E_NOT_FOUND: "the request names something the agent does not have",
  E_INTERNAL: "a bug in the agent or a plugin (detail on the agent's console)",
};

/** Client codes meaning a deadline passed (504); every other client code is 502 (the agent was not reached, or broke the protocol). */
const CLIENT_TIMEOUTS = new Set(["E_CLIENT_TIMEOUT", "E_AGENT_TIMEOUT"]);

/**
 * The status of a failed call by its code: the agent's codes by AGENT_CODE_STATUS, client timeouts
 * 504, every other client code 502, and a code neither knows (a plugin's own) 502.
 * @example statusOfCode("E_NOT_FOUND") // 404; statusOfCode("E_SOCKET_MISSING") // 502
 */
export function statusOfCode(code: string): HttpStatus {
  if (Object.hasOwn(AGENT_CODE_STATUS, code)) return AGENT_CODE_STATUS[code as ErrorCode];
  if (CLIENT_TIMEOUTS.has(code)) return 504;
  if (Object.hasOwn(CLIENT_ERROR_CODES, code)) return 502;
  return /timed? ?out/i.test(code) ? 504 : 502;
}

/**
 * Map a failed agent call to HTTP by its code (statusOfCode); the code and message are passed on, the
 * message prefixed with the VM's name. A failure without a code (not the client's, not the agent's) is
 * 502 `E_UNAVAILABLE`.
 */
export function callFailure(err: unknown, vm: string): HttpFail {
  const e = err as { code?: unknown; message?: unknown; data?: unknown };
  const coded = typeof e?.code === "string";
  const code = coded ? (e.code as string) : "E_UNAVAILABLE";
  const message = typeof e?.message === "string" && e.message ? e.message : String(err);
  return new HttpFail(coded ? statusOfCode(code) : 502, code, `${vm}: ${message}`, e?.data);
}

/** Every status a failed agent call can have, with the codes that give it (for OpenAPI responses and docs). */
export function callFailureStatuses(): Map<HttpStatus, string[]> {
  const out = new Map<HttpStatus, string[]>();
  const add = (s: HttpStatus, code: string) => out.set(s, [...(out.get(s) ?? []), code]);
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) add(AGENT_CODE_STATUS[code], code);
  for (const code of Object.keys(CLIENT_ERROR_CODES)) add(statusOfCode(code), code);
  return new Map([...out.entries()].sort(([a], [b]) => a - b));
}

/**
 * The markdown table of agent codes and their statuses (docs/bridge.md and docs/plugins.md carry it;
 * a test keeps them in step).
 */
export function agentStatusTable(): string {
  const rows = (Object.keys(ERROR_CODES) as ErrorCode[]).map((c) => `| \`${c}\` | ${AGENT_CODE_STATUS[c]} | ${AGENT_CODE_WHY[c]} |`);
  return ["| agent code | HTTP status | why |", "| --- | --- | --- |", ...rows].join("\n");
}
