// Who may call the bridge: a bearer token, or the dashboard's login cookie (HMAC of the token) plus a CSRF header for changes.

import { createHmac } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { sameToken } from "./input.ts";

/** The header the dashboard's script sends with every change it asks for (value: `csrfToken(token)`). */
export const CSRF_HEADER = "x-mvm-csrf";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** True for methods that never change anything here (no route answers them with a change). */
export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method);
}

const derive = (token: string, purpose: string) => createHmac("sha256", token).update(`mvm bridge ${purpose} v1`).digest("base64url");

/** The secrets the bridge derives from its token: the cookie's value and the CSRF header's value. Neither is the token. */
export interface AuthKeys {
  token: string;
  session: string;
  csrf: string;
}

/**
 * Derive the login cookie value and the CSRF value from the token (HMAC-SHA256, one purpose each):
 * stable across restarts, changed with the token, and neither gives the token back.
 * @example const keys = authKeys("s3cret"); keys.csrf // what the dashboard sends as X-MVM-CSRF
 */
export function authKeys(token: string): AuthKeys {
  return { token, session: derive(token, "session"), csrf: derive(token, "csrf") };
}

/** The cookie's name: one per port, so that bridges on two ports of one host keep their own logins. */
export function sessionCookieName(port: number | undefined): string {
  return port ? `mvm_bridge_session_${port}` : "mvm_bridge_session";
}

function unauthorized(c: Context, message: string): Response {
  c.header("WWW-Authenticate", 'Bearer realm="mvm bridge"');
  if (c.req.path === "/" && (c.req.header("accept") ?? "").includes("text/html"))
    return c.html("<!doctype html><title>mvm bridge</title><p>This bridge needs its token: open <code>/?token=TOKEN</code> once (<code>mvmctl serve</code> printed that address; the token is in its token file).</p>", 401);
  return c.json({ code: "E_UNAUTHORIZED", message }, 401);
}

/**
 * The auth middleware. `/healthz` is open. `Authorization: Bearer TOKEN` passes everywhere. The
 * dashboard logs in once with `GET /?token=TOKEN` (303 to `/` with an HttpOnly, SameSite=Strict
 * cookie holding `keys.session`); the cookie then passes safe methods, and a change also needs
 * the `X-MVM-CSRF: keys.csrf` header (the dashboard's script reads it from the page). A cookie
 * alone never changes anything.
 */
export function authMiddleware(keys: AuthKeys, port: () => number | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.path === "/healthz") return next();
    const auth = c.req.header("authorization");
    if (auth !== undefined) {
      const bearer = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth)?.[1];
      if (bearer && sameToken(bearer, keys.token)) return next();
      return unauthorized(c, "wrong bearer token");
    }
    const name = sessionCookieName(port());
    const q = c.req.method === "GET" && c.req.path === "/" ? c.req.query("token") : undefined;
    if (q !== undefined) {
      // Log in, and take the token out of the address bar (and of the history) at once.
      if (!sameToken(q, keys.token)) return unauthorized(c, "wrong token in ?token=");
      setCookie(c, name, keys.session, { httpOnly: true, sameSite: "Strict", path: "/" });
      c.header("Cache-Control", "no-store");
      return c.redirect("/", 303);
    }
    const cookie = getCookie(c, name);
    if (cookie !== undefined && sameToken(cookie, keys.session)) {
      if (isSafeMethod(c.req.method)) return next();
      const csrf = c.req.header(CSRF_HEADER);
      if (csrf !== undefined && sameToken(csrf, keys.csrf)) return next();
      return c.json({ code: "E_CSRF", message: `the login cookie alone does not allow a change: send Authorization: Bearer TOKEN (or, from the dashboard, the ${CSRF_HEADER} header)` }, 403);
    }
    return unauthorized(c, cookie !== undefined ? "the login cookie is not valid for this bridge (log in again with /?token=TOKEN)" : "this bridge needs Authorization: Bearer TOKEN");
  };
}
