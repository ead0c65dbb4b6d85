// The one error class of the agent and the catalog of wire error codes (documented in docs/errors.md).

/** Every code the agent may put on the wire, with the sentence that documents it. */
export const ERROR_CODES = {
  E_BAD_FRAME: "The body is not JSON, or not a JSON object. The connection goes on.",
  E_FRAME_TOO_LARGE: "The length prefix is over the frame cap; the agent answers and closes (it cannot resync).",
  E_BAD_REQUEST: "The envelope is wrong: missing or invalid `type`, invalid `id`, or unknown top-level keys.",
  E_UNKNOWN_REQUEST: "No plugin serves this `type` (also: `exec` in a production build, or with --no-exec).",
  E_INVALID_PARAMS: "The params fail the request's schema; `data` lists `{path, message}`.",
  E_RESULT_TOO_LARGE: "The answer would exceed the frame cap; the message says how to page.",
  E_BUSY: "A conflicting operation is in progress (for example sleep-prep twice).",
  E_TIMEOUT: "The operation hit its deadline.",
  E_UNAVAILABLE: "The capability cannot work here (for example no overlay upper dir); the message says what was looked for.",
  E_NOT_FOUND: "The request names something that does not exist (an integration or probe name).",
  E_INTERNAL: "A bug in the agent or a plugin; the message is generic, the console gets the detail.",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * An error that becomes `{ code, message, data }` on the wire.
 * @example throw new AgentError("E_NOT_FOUND", `no integration named "${name}"`);
 */
export class AgentError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = "AgentError";
  }

  toJSON(): { code: ErrorCode; message: string; data?: unknown } {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

/** True when `code` is in the catalog. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CODES, code);
}

/** Short text of any thrown value, for console lines. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
