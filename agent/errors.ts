// The agent's error classes and their code catalogs: wire codes, and boot codes (both in docs/errors.md).

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

/** Marks AgentErrors of every copy of this module (registered globally, so two copies share it). */
const AGENT_ERROR = Symbol.for("mvm-guest-agent.AgentError");

/**
 * An error that becomes `{ code, message, data }` on the wire. `instanceof AgentError` also holds for
 * one made by another copy of this module (a plugin that brought its own copy of the package, or a
 * plugin bundled by a dev binary's `--plugin`), so the router never mistakes it for a bug.
 * @example throw new AgentError("E_NOT_FOUND", `no integration named "${name}"`);
 */
export class AgentError extends Error {
  readonly [AGENT_ERROR] = true;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = "AgentError";
  }

  /** Recognises AgentErrors by their mark; subclasses keep the ordinary prototype check. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== AgentError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === "object" && value !== null && (value as { [AGENT_ERROR]?: unknown })[AGENT_ERROR] === true;
  }

  toJSON(): { code: ErrorCode; message: string; data?: unknown } {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

/** Codes of a plugin list that cannot run: never on the wire; the agent refuses to start with the message. */
export const REGISTRATION_CODES = {
  E_DUPLICATE_PLUGIN: "Two plugins have the same name (or a plugin is named `core`).",
  E_DUPLICATE_REQUEST: "Two plugins serve the same request name (or a plugin reuses ping, hello or status).",
  E_BAD_REQUEST_NAME: "A request name is not kebab-case: a-z and 0-9, with `.`, `_` or `-` after the first character, at most 128.",
  E_DUPLICATE_SERVICE: "Two plugins provide the same service (`ctx.provide`); the second one's start fails.",
  E_REGISTRATION_CLOSED: "A request or dialect was registered after the agent started.",
  E_MISSING_NEED: "A plugin `needs` another that is not loaded; the message names both.",
  E_NEED_CYCLE: "Plugins need each other in a circle (`needs` and `after`); the message names the circle.",
} as const;

export type RegistrationCode = keyof typeof REGISTRATION_CODES;

/**
 * A plugin list that cannot run, found at boot (or at a plugin's start, for services).
 * @example throw new RegistrationError("E_MISSING_NEED", 'plugin "snapshot" needs plugin "health", which is not loaded');
 */
export class RegistrationError extends Error {
  constructor(
    readonly code: RegistrationCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = "RegistrationError";
  }
}

/** Short text of any thrown value, for console lines. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
