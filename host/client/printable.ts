// printable(): text from outside (a VMM's answer, an agent's step detail, a path) made safe for one console line.

/** C0 controls, DEL and C1 controls: what a terminal may act on. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * Escape control characters (`\n` -> `\x0a`, ESC -> `\x1b`) so that text from a VMM, an agent or a
 * file name cannot move the cursor, recolour or forge lines on a console; cut it to `max` characters.
 * @example printable("bad\x1b[2Jline\n") // "bad\\x1b[2Jline\\x0a"
 */
export function printable(text: string, max = 500): string {
  const s = text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** True when the text holds a control character (see printable). */
export function hasControl(text: string): boolean {
  CONTROL.lastIndex = 0;
  return CONTROL.test(text);
}
