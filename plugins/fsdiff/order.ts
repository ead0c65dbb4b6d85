// Path order (UTF-8 byte order) and the opaque paging cursor.

import { AgentError } from "../../agent/errors.ts";

function fix(c: number): number {
  // Surrogates (astral code points) sort after U+E000..U+FFFF in UTF-8 byte order.
  return c <= 0xdfff ? c + 0x2800 : c;
}

/**
 * Compare two strings in the byte order of their UTF-8 encodings (JS `<` compares UTF-16 units,
 * which differs for code points above U+FFFF).
 * @example ["/b", "/a/x", "/a"].sort(compareUtf8) // ["/a", "/a/x", "/b"]
 */
export function compareUtf8(a: string, b: string): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return x >= 0xd800 && y >= 0xd800 ? fix(x) - fix(y) : x - y;
  }
  return a.length - b.length;
}

/** Native comparison: equals compareUtf8 when no string holds a unit at or above U+D800. */
function compareNative(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const HIGH = /[\ud800-\uffff]/;

/** The comparator to sort these keys with: native when it gives the same order, else compareUtf8. */
export function comparatorFor(keys: readonly string[]): (a: string, b: string) => number {
  for (const k of keys) if (HIGH.test(k)) return compareUtf8;
  return compareNative;
}

const PREFIX = "v1:";

/** Encode the key of the last item returned as an opaque cursor. */
export function encodeCursor(key: string): string {
  return Buffer.from(PREFIX + key, "utf8").toString("base64url");
}

/** Decode a cursor from `encodeCursor`; anything else is E_INVALID_PARAMS. */
export function decodeCursor(cursor: string): string {
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, "base64url").toString("utf8") : "";
  if (!text.startsWith(PREFIX + "/") || encodeCursor(text.slice(PREFIX.length)) !== cursor) {
    throw new AgentError("E_INVALID_PARAMS", "cursor is not one this agent issued: pass next_cursor from the previous answer unchanged", [
      { path: "/cursor", message: "unrecognized cursor" },
    ]);
  }
  return text.slice(PREFIX.length);
}
