// The bridge's gate before any route: Host allow-list, JSON-only same-origin changes, Fetch Metadata, and hardening headers.

import type { Context, MiddlewareHandler } from "hono";
import { isSafeMethod } from "./auth.ts";
import { hostAllowed, sameOrigin, type HostRule } from "./hosts.ts";

export interface GuardOptions {
  /** Names allowed besides the loopback ones (`--allow-host`). */
  allowHosts: readonly HostRule[];
  /** Names that, like the loopback ones, are allowed with the bound port (the `--host` address). */
  boundNames: readonly string[];
  /** The bound port, once known (loopback names must carry it). */
  port: () => number | undefined;
}

/** Headers on every answer: no sniffing, no framing, no referrer, nothing active, not loadable by other origins. No CORS header, ever. */
const HARDENING: Record<string, string> = {
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
  "Cross-Origin-Resource-Policy": "same-origin",
};

const refuse = (c: Context, status: 403 | 415, code: string, message: string) => c.json({ code, message }, status);

/** The request's Host: the header, or the host of an absolute URL (in-process `app.request`). */
function hostOf(c: Context): string | undefined {
  const h = c.req.header("host");
  if (h !== undefined) return h;
  const m = /^https?:\/\/([^/?#]*)/i.exec(c.req.url);
  return m ? m[1] : undefined;
}

const show = (s: string | undefined) => JSON.stringify((s ?? "").slice(0, 100));

/**
 * The gate, in order: (1) the Host header must name this bridge (`hosts.ts`), else 403
 * `E_HOST_NOT_ALLOWED`, whatever the route (DNS rebinding); (2) POST, PUT, PATCH and DELETE need
 * `Content-Type: application/json` (415 `E_UNSUPPORTED_MEDIA_TYPE`: what a plain HTML form or a
 * no-cors fetch can send is refused) and, when the browser says where it comes from (`Origin`,
 * `Sec-Fetch-Site`), the same origin (403 `E_CROSS_ORIGIN`); (3) safe methods from another site
 * are refused unless they are a top-level page load (Fetch Metadata). Every answer gets `HARDENING`.
 */
export function guardMiddleware(opts: GuardOptions): MiddlewareHandler {
  return async (c, next) => {
    for (const k in HARDENING) c.header(k, HARDENING[k]);
    const host = hostOf(c);
    if (!hostAllowed(host, opts.allowHosts, opts.port(), opts.boundNames))
      return refuse(c, 403, "E_HOST_NOT_ALLOWED", `this bridge does not answer to Host ${show(host)}; use 127.0.0.1, [::1] or localhost with its port, or start it with --allow-host NAME`);
    const site = c.req.header("sec-fetch-site");
    if (!isSafeMethod(c.req.method)) {
      const type = c.req.header("content-type");
      const media = type === undefined ? "" : type.split(";", 1)[0]!.trim().toLowerCase();
      if (media !== "application/json")
        return refuse(c, 415, "E_UNSUPPORTED_MEDIA_TYPE", `a ${c.req.method} needs Content-Type: application/json (got ${type === undefined ? "none" : show(type)})`);
      const origin = c.req.header("origin");
      if (origin !== undefined && !sameOrigin(origin, host!))
        return refuse(c, 403, "E_CROSS_ORIGIN", `a change must come from this bridge's own origin, not Origin ${show(origin)} (this bridge sends no CORS headers)`);
      if (site !== undefined && site !== "same-origin")
        return refuse(c, 403, "E_CROSS_ORIGIN", `a change must come from this bridge's own pages (Sec-Fetch-Site: ${show(site)})`);
    } else if (site === "cross-site" || site === "same-site") {
      // Another site may link to the dashboard (a top-level navigation) but not load our answers into its page.
      if (!(c.req.method === "GET" && c.req.header("sec-fetch-mode") === "navigate" && c.req.header("sec-fetch-dest") === "document"))
        return refuse(c, 403, "E_CROSS_ORIGIN", `another site's page cannot load this bridge's answers (Sec-Fetch-Site: ${show(site)})`);
    }
    return next();
  };
}
