// Text helpers of the mvm dialect: its timestamp format, and cutting strings to fit a byte budget (UTF-8 safe).

/**
 * An RFC 3339 time (or epoch ms) in the original's format `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole
 * seconds, cut not rounded); null for null or an unparsable time.
 * @example mvmTime("2026-11-28T10:57:19.823Z") // "2026-11-28T10:57:19Z"
 */
export function mvmTime(t: string | number | null | undefined): string | null {
  if (t === null || t === undefined) return null;
  const ms = typeof t === "number" ? t : Date.parse(t);
  if (!Number.isFinite(ms)) return null;
  const iso = new Date(ms).toISOString();
  return iso.length === 24 ? `${iso.slice(0, 19)}Z` : null;
}

/** Bytes of `s` once written as a JSON string (quotes included). */
export function jsonBytes(s: string): number {
  return Buffer.byteLength(JSON.stringify(s));
}

/**
 * The longest prefix of `s` whose JSON string form (with quotes) takes at most `maxBytes`.
 * Never splits a surrogate pair (so never a UTF-8 character).
 * @example fitJsonString("héllo", 5) // "hé" ("\"hé\"" is 5 bytes)
 */
export function fitJsonString(s: string, maxBytes: number): string {
  if (jsonBytes(s) <= maxBytes) return s;
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (jsonBytes(cut(s, mid)) <= maxBytes) lo = mid;
    else hi = mid - 1;
  }
  return cut(s, lo);
}

/** `s` cut to `n` UTF-16 units, one less when that would split a surrogate pair. */
function cut(s: string, n: number): string {
  if (n > 0 && n < s.length) {
    const c = s.charCodeAt(n - 1);
    if (c >= 0xd800 && c <= 0xdbff) return s.slice(0, n - 1);
  }
  return s.slice(0, n);
}

/** At most `max` characters of `s` on one line (for console lines and details). */
export function oneLine(s: string, max = 200): string {
  const line = s.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max)}...` : line;
}
