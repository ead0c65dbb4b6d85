// What mvmctl's stdout can do: colour (flags, NO_COLOR, FORCE_COLOR, TERM=dumb, isatty), rewritten lines, and its width.

/** The process facts the choices below are made from (BaseIO carries them). */
export interface TerminalFacts {
  stdoutIsTTY: boolean;
  env: Record<string, string | undefined>;
  /** `process.stdout.columns` when stdout is a terminal. */
  columns?: number | undefined;
}

/** Set and not empty: `NO_COLOR=` and `FORCE_COLOR=` count as unset (the `VAR= cmd` idiom). */
function given(v: string | undefined): v is string {
  return v !== undefined && v !== "";
}

/**
 * Whether stdout gets colour escapes. First match wins:
 * 1. `--color` / `--no-color` (the command line is the user's latest word);
 * 2. `NO_COLOR` set and not empty: off (no-color.org: "when present and not an empty string
 *    (regardless of its value), prevents the addition of ANSI color");
 * 3. `FORCE_COLOR` set and not empty: on, even into a pipe, except `0` and `false`, which mean off
 *    (as Node and supports-color read them);
 * 4. `TERM=dumb`: off;
 * 5. on when stdout is a terminal.
 * Node lets FORCE_COLOR beat NO_COLOR; mvmctl follows no-color.org and CMake (NO_COLOR wins), since
 * NO_COLOR is usually the user's own setting and FORCE_COLOR a CI system's.
 * @example colorChoice(undefined, { FORCE_COLOR: "1" }, false) // true
 */
export function colorChoice(flag: boolean | undefined, env: Record<string, string | undefined>, stdoutIsTTY: boolean): boolean {
  if (flag !== undefined) return flag;
  if (given(env.NO_COLOR)) return false;
  if (given(env.FORCE_COLOR)) return !/^(0|false)$/i.test(env.FORCE_COLOR.trim());
  if (env.TERM === "dumb") return false;
  return stdoutIsTTY;
}

/**
 * Whether a line may be rewritten in place (`\r`, erase line, cursor up): stdout is a terminal that
 * is not `TERM=dumb`. Elsewhere, progress and watches print plain lines.
 */
export function liveOutput(t: TerminalFacts): boolean {
  return t.stdoutIsTTY && t.env.TERM !== "dumb";
}

/** Narrowest width mvmctl lays out for: below it, tables are cut at this many columns anyway. */
export const MIN_WIDTH = 20;
/** Widest width taken from COLUMNS or the terminal; beyond it nothing is cut. */
export const MAX_WIDTH = 10_000;

/**
 * The width to fit human output into, or undefined for "do not cut" (stdout is not a terminal and
 * COLUMNS is not set: a pipe or a file gets whole lines). `COLUMNS` wins over the terminal's own
 * width (as in `ls`, `git`); a value that is not a whole number from 1, or a terminal that says 0,
 * is ignored. Widths are kept between MIN_WIDTH and MAX_WIDTH. JSON is never cut.
 * @example outputWidth({ stdoutIsTTY: true, env: {}, columns: 80 }) // 80
 */
export function outputWidth(t: TerminalFacts): number | undefined {
  const fromEnv = t.env.COLUMNS?.trim();
  let w: number | undefined;
  if (fromEnv && /^\d{1,9}$/.test(fromEnv) && Number(fromEnv) > 0) w = Number(fromEnv);
  else if (t.stdoutIsTTY && typeof t.columns === "number" && Number.isInteger(t.columns) && t.columns > 0) w = t.columns;
  if (w === undefined) return undefined;
  return Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, w));
}
