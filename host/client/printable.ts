// printable(): text from outside (a VMM's answer, an agent's step detail, a path) made safe for one console line.

import { escapeControl } from "../../agent/log.ts";

/**
 * Escape control characters (`\n`, `\e` for ESC, `\x07`, bidi controls as `\u202e` ...: the agent's
 * one escaping, agent/log.ts `escapeControl`) so that text from a VMM, an agent or a file name cannot
 * move the cursor, recolour, reorder or forge lines on a console; cut it to `max` characters.
 * @example printable("bad\x1b[2Jline\n") // "bad\\e[2Jline\\n"
 */
export function printable(text: string, max = 500): string {
  const s = escapeControl(text);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** True when the text holds a character printable() escapes. */
export function hasControl(text: string): boolean {
  return escapeControl(text) !== text;
}
