// What a mvmctl command may touch: output streams, colour, width, environment, clocks, stop signal, global flags.

import type { Clock } from "../../agent/clock.ts";

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
  /** Colour escapes are allowed (terminal.ts `colorChoice`: --color/--no-color, NO_COLOR, FORCE_COLOR, TERM=dumb, isatty). */
  readonly color: boolean;
  /** stdout is a terminal. */
  readonly stdoutIsTTY?: boolean;
  /** Lines may be rewritten in place (a terminal, not TERM=dumb): progress lines, --watch redraws. */
  readonly live: boolean;
  /** The width to fit human output into (COLUMNS, else the terminal's); undefined: do not cut (a pipe). */
  readonly width: number | undefined;
  /** The terminal's columns and rows, when stdout is one (bin.ts reads process.stdout). */
  readonly columns?: number;
  readonly rows?: number;
  /** Timers and monotonic time for waits, watches and progress (default: the system clock; tests pass a ManualClock). */
  readonly clock?: Clock;
  readonly env: Record<string, string | undefined>;
  /** Aborted on SIGINT/SIGTERM: following and serving commands stop cleanly and return. */
  readonly signal: AbortSignal;
  readonly globals: GlobalFlags;
  /** mvmctl runs as a compiled single binary (dist/mvmctl), not from its sources (`mvmctl version` says so). */
  readonly compiled?: boolean;
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

const SGR = /\x1b\[[0-9;]*m/g;

/** Columns one code point takes: 0 for combining marks, 2 for wide East Asian and emoji, else 1. */
function charWidth(cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || cp === 0xfe0f) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  )
    return 2;
  return 1;
}

/** Columns a string takes on a terminal (colour escapes excluded, wide characters count 2). */
export function visibleLength(s: string): number {
  let n = 0;
  for (const ch of s.replace(SGR, "")) n += charWidth(ch.codePointAt(0)!);
  return n;
}

/**
 * Cut a line to `width` columns, keeping colour escapes whole and ending a cut one with `…` (and a
 * colour reset when a colour was open). Undefined width: the line as it is.
 * @example cut("\x1b[32mhealthy\x1b[0m and more", 5) // "\x1b[32mheal…\x1b[0m"
 */
export function cut(s: string, width: number | undefined): string {
  if (width === undefined || visibleLength(s) <= width) return s;
  let out = "";
  let n = 0;
  let open = false;
  for (let i = 0; i < s.length; ) {
    const m = s[i] === "\x1b" ? /^\x1b\[[0-9;]*m/.exec(s.slice(i)) : null;
    if (m) {
      out += m[0];
      open = m[0] !== "\x1b[0m";
      i += m[0].length;
      continue;
    }
    const ch = String.fromCodePoint(s.codePointAt(i)!);
    const w = charWidth(ch.codePointAt(0)!);
    if (n + w > width - 1) break;
    out += ch;
    n += w;
    i += ch.length;
  }
  return `${out}…${open ? "\x1b[0m" : ""}`;
}
