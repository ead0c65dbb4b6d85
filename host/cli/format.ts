// Human output helpers for mvmctl: aligned tables, sizes, durations, ages, and the escaping of what came
// from outside (an agent's answer, a guest's file name, a command's output) before it reaches a terminal.

import { escapeControl } from "../../agent/log.ts";
import { printable } from "../client/printable.ts";
import { cut, PAINT_SGR, paint, visibleLength, type Colour } from "./io.ts";

/**
 * Text from outside made safe for one terminal line: control characters, bidi controls and U+2028/9
 * escaped (agent/log.ts `escapeControl`: `\e`, `\n`, `\x07`, `\u202e`). With `color`, the exact
 * escapes mvmctl's own `paint` writes are kept: a cell may hold a status word in colour. table(),
 * short(), statusWord() and ago() apply it; a command that prints outside text on a line of its own
 * passes it through here.
 * @example safeText("evil\x1b]0;title\x07\nFORGED") // "evil\\e]0;title\\x07\\nFORGED"
 */
export function safeText(s: string, color = false): string {
  if (!color) return escapeControl(s);
  let out = "";
  let last = 0;
  for (const m of s.matchAll(PAINT_SGR)) {
    out += escapeControl(s.slice(last, m.index)) + m[0];
    last = m.index + m[0].length;
  }
  return out + escapeControl(s.slice(last));
}

export interface TableOptions {
  color?: boolean;
  /** Fit every line into this many columns (io.width); undefined: whole lines. */
  width?: number | undefined;
  /** Print the header row (false: `--no-headers`). Default true. */
  headers?: boolean;
}

/** The last column keeps at least this many columns before whole lines are cut instead. */
const MIN_LAST = 12;

/**
 * Align rows under a header; cells may hold colour escapes (and must hold nothing else raw: pass
 * outside text through `short` or `printable`). The last column is not padded; with a `width`, it
 * gives up space first (cut with `…`), then whole lines are cut.
 * @example table(["NAME", "STATE"], [["vm1", "running"]]) // "NAME  STATE\nvm1   running\n"
 */
export function table(header: string[], rows: string[][], opts: boolean | TableOptions = {}): string {
  const o = typeof opts === "boolean" ? { color: opts } : opts;
  // Every cell is escaped (safeText): only mvmctl's own colour escapes pass.
  const all = [header, ...rows].map((r) => r.map((cell) => safeText(cell, o.color === true)));
  const widths = header.map((_, c) => Math.max(...all.map((r) => visibleLength(r[c] ?? ""))));
  const last = header.length - 1;
  const before = widths.slice(0, last).reduce((a, w) => a + w + 2, 0);
  const room = o.width === undefined ? undefined : o.width - before;
  const lastRoom = room !== undefined && room >= MIN_LAST ? room : undefined;
  const line = (r: string[]) =>
    cut(
      r
        .map((cell, c) => (c === last ? cut(cell, lastRoom) : cell + " ".repeat(widths[c]! - visibleLength(cell))))
        .join("  ")
        .trimEnd(),
      o.width,
    );
  const lines = all.slice(1).map(line);
  if (o.headers !== false) lines.unshift(paint(o.color === true, "bold", line(all[0]!)));
  return lines.length ? lines.join("\n") + "\n" : "";
}

/** `1.5 KiB`, `12 B`, `3.2 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

/** `850 ms`, `2.4 s`, `3m 12s`, `5h 02m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** How long ago an RFC 3339 time was (`12 s ago`), or "-" when absent or unparsable. */
export function ago(time: string | null | undefined, now: number): string {
  if (!time) return "-";
  const t = Date.parse(time);
  if (Number.isNaN(t)) return safeText(time);
  const d = now - t;
  return d < 0 ? `in ${formatDuration(-d)}` : `${formatDuration(d)} ago`;
}

/** A status word in its colour: good green, bad red, waiting yellow, anything else plain. */
export function statusWord(word: string, color: boolean): string {
  const c: Record<string, Colour> = {
    healthy: "green",
    ready: "green",
    running: "green",
    idle: "green",
    ok: "green",
    yes: "green",
    error: "red",
    unreachable: "red",
    failed: "red",
    no: "red",
    "not ready": "red",
    starting: "yellow",
    pending: "yellow",
    preparing: "yellow",
    sleeping: "blue",
    paused: "blue",
    busy: "magenta",
    stale: "yellow",
    unchecked: "gray",
  };
  const colour = Object.hasOwn(c, word) ? c[word] : undefined;
  // Any other word may be an agent's own text: escaped.
  return colour ? paint(color, colour, word) : printable(word, 100);
}

/**
 * Any JSON value (an agent's text, a probe value, a status section) as one line safe for a console:
 * runs of spaces, tabs and newlines become one space, other control characters are escaped
 * (`\x1b`), and it is cut to `max` characters.
 * @example short("exit 7:\n\x1b[2Jrefused", 60) // "exit 7: \\x1b[2Jrefused"
 */
export function short(v: unknown, max = 500): string {
  const s = typeof v === "string" ? v : (JSON.stringify(v) ?? "null");
  return printable(s.replace(/[ \t\n\r\f\v]+/g, " "), max);
}
