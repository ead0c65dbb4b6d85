// What a mvmctl command may touch: output streams, colour, environment, stop signal, global flags.

/** Global flags, parsed before or after the command name. */
export interface GlobalFlags {
  /** `--vms FILE` (relative paths already resolved by the registry). */
  vms?: string;
  /** `--timeout SECS`: deadline of one agent call (default 5). */
  timeoutMs: number;
  /** True when --timeout was given (serve passes it on only then). */
  timeoutExplicit?: boolean;
}

/**
 * Everything a command gets from the process, so tests run commands in memory.
 * `mvmctl serve` hands its out/err and signal on to serveBridge (host/bridge/serve.ts).
 * @example io.out(`${name}\treachable\n`); if (io.signal.aborted) return 130;
 */
export interface CliIO {
  /** Write to stdout (no newline added). */
  out(text: string): void;
  /** Write raw bytes to stdout (exec passes binary output through). */
  outBytes(bytes: Uint8Array): void;
  /** Write to stderr (no newline added). */
  err(text: string): void;
  errBytes(bytes: Uint8Array): void;
  /** Read all of stdin (exec --stdin). */
  readStdin(): Promise<Uint8Array>;
  /** Colour escapes are allowed: stdout is a TTY, NO_COLOR unset, no --no-color (or --color given). */
  readonly color: boolean;
  /** stdout is a terminal: a step in progress may be shown on a line that is then rewritten. */
  readonly stdoutIsTTY?: boolean;
  readonly env: Record<string, string | undefined>;
  /** Aborted on SIGINT/SIGTERM: following and serving commands stop cleanly and return. */
  readonly signal: AbortSignal;
  readonly globals: GlobalFlags;
  /** Wall clock in ms (tests may fix it). */
  now(): number;
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1, dim: 2 } as const;
export type Colour = keyof typeof CODES;

/** Wrap text in an ANSI colour when `on`. */
export function paint(on: boolean, colour: Colour, text: string): string {
  return on ? `\x1b[${CODES[colour]}m${text}\x1b[0m` : text;
}

/** Exactly the escapes `paint` writes (its palette and the reset): nothing else may pass mvmctl's escaping. */
export const PAINT_SGR = new RegExp(`\x1b\\[(?:0|${Object.values(CODES).join("|")})m`, "g");

/** Visible width of a string (ANSI escapes excluded). */
export function visibleLength(s: string): number {
  return s.replace(/\x1b\[[0-9;]*m/g, "").length;
}
