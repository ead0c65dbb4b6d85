// The bridge's Host header allow-list (against DNS rebinding) and the same-origin test of Origin headers.

/** One allowed host: a lower-case name (IPv6 in brackets) and a port, or `null` for any port. */
export interface HostRule {
  name: string;
  port: number | null;
}

/** Names every bridge answers to, with its bound port. */
const LOOPBACK_NAMES: readonly string[] = ["127.0.0.1", "[::1]", "localhost"];

const NAME = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const IPV6 = /^\[[0-9a-f:.]+\]$/;

/**
 * Split a Host header (or an `--allow-host` value) into a lower-case name and a port (`null` when
 * absent). `undefined` for anything that is not a plain DNS name, IPv4 or bracketed IPv6 address
 * with an optional port: no user info, no path, no trailing dot, no empty part.
 * @example parseHost("LocalHost:7070") // { name: "localhost", port: 7070 }
 */
export function parseHost(text: string): HostRule | undefined {
  const t = text.trim().toLowerCase();
  if (t.length === 0 || t.length > 260) return undefined;
  let name: string;
  let rest: string;
  if (t.startsWith("[")) {
    const close = t.indexOf("]");
    if (close < 0) return undefined;
    name = t.slice(0, close + 1);
    rest = t.slice(close + 1);
    if (!IPV6.test(name)) return undefined;
  } else {
    const colon = t.indexOf(":");
    name = colon < 0 ? t : t.slice(0, colon);
    rest = colon < 0 ? "" : t.slice(colon);
    if (!NAME.test(name)) return undefined;
  }
  if (rest === "") return { name, port: null };
  if (!/^:\d{1,5}$/.test(rest)) return undefined;
  const port = Number(rest.slice(1));
  return port >= 1 && port <= 65535 ? { name, port } : undefined;
}

/**
 * Parse one `--allow-host` value: `NAME` (any port: a proxy in front may use its own) or `NAME:PORT`.
 * Throws an Error naming the value when it is not a host name or address.
 * @example parseAllowHost("bridge.internal") // { name: "bridge.internal", port: null }
 */
export function parseAllowHost(text: string): HostRule {
  const rule = parseHost(text);
  if (!rule) throw new Error(`--allow-host: ${JSON.stringify(text)} is not a host name or address, with an optional :PORT (IPv6 in brackets: [fd00::5]:7070)`);
  return rule;
}

/**
 * True when `host` (the request's Host header) names this bridge: a loopback name, or one of `bound`
 * (the --host address), with the bound port (any port while `boundPort` is unknown, as in-process
 * tests), or a rule of `extra` (--allow-host). A missing Host port means 80, as for a browser.
 */
export function hostAllowed(host: string | undefined, extra: readonly HostRule[], boundPort: number | undefined, bound: readonly string[] = []): boolean {
  if (host === undefined) return false;
  const h = parseHost(host);
  if (!h) return false;
  const port = h.port ?? 80;
  if ((LOOPBACK_NAMES.includes(h.name) || bound.includes(h.name)) && (boundPort === undefined || port === boundPort)) return true;
  return extra.some((r) => r.name === h.name && (r.port === null || r.port === port));
}

/**
 * True when `origin` (an Origin header) is the origin of a request to `host`: same name, same port
 * (a Host without a port takes the default port of the Origin's scheme, as behind a TLS proxy).
 * `null`, opaque and non-http(s) origins are never the same.
 * @example sameOrigin("http://127.0.0.1:7070", "127.0.0.1:7070") // true
 */
export function sameOrigin(origin: string, host: string): boolean {
  const m = /^(https?):\/\/([^/?#@]+)$/i.exec(origin.trim());
  if (!m) return false;
  const o = parseHost(m[2]!);
  const h = parseHost(host);
  if (!o || !h || o.name !== h.name) return false;
  const def = m[1]!.toLowerCase() === "https" ? 443 : 80;
  return (o.port ?? def) === (h.port ?? def);
}
