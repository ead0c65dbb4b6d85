// How a probe's stdout becomes its value: number (with % or unit suffix), JSON, text, per output_format.

import type { OutputFormat } from "./schemas.ts";

export type Parsed = { ok: true; value: unknown } | { ok: false; detail: string };

/** `42`, `-1.5`, `1e3`, `42%`, `42 %`, `12ms`, `3.5 GiB`, `7 req/s`: the number, suffix dropped. */
const NUMBER_WITH_SUFFIX = /^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(?:%|[A-Za-z]{1,16}(?:\/[A-Za-z]{1,16})?)?$/;

/**
 * A number, when the text is one with an optional `%` or unit suffix; otherwise undefined.
 * @example parseNumber("42%") // 42
 */
export function parseNumber(text: string): number | undefined {
  const m = NUMBER_WITH_SUFFIX.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isFinite(n) ? n : undefined;
}

function short(text: string, max = 60): string {
  const one = text.replace(/\s+/g, " ");
  return JSON.stringify(one.length > max ? one.slice(0, max) + "…" : one);
}

/**
 * Turn trimmed stdout into a value for a format other than `exit_code`.
 * - `auto`: a number (suffix allowed), else JSON, else the text; empty output gives null.
 * - `number` / `json`: that parse, or a failure with a clear detail.
 * - `text`: the text as is.
 * @example parseOutput("auto", '{"queue": 3}') // { ok: true, value: { queue: 3 } }
 */
export function parseOutput(format: Exclude<OutputFormat, "exit_code">, text: string): Parsed {
  if (format === "text") return { ok: true, value: text };
  if (format === "number") {
    const n = parseNumber(text);
    return n === undefined ? { ok: false, detail: `output is not a number: ${short(text)}` } : { ok: true, value: n };
  }
  if (format === "json") {
    if (text === "") return { ok: false, detail: "output is empty, expected JSON" };
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (e) {
      return { ok: false, detail: `output is not valid JSON (${(e as Error).message}): ${short(text)}` };
    }
  }
  if (text === "") return { ok: true, value: null };
  const n = parseNumber(text);
  if (n !== undefined) return { ok: true, value: n };
  const first = text[0];
  if (first === "{" || first === "[" || first === '"' || text === "true" || text === "false" || text === "null") {
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch {
      // Looks like JSON but is not: it is text.
    }
  }
  return { ok: true, value: text };
}
