// /openapi.json, generated from the bridge's route table (routes.ts): nothing here is written by hand per route.

import type { TSchema } from "@sinclair/typebox";
import { ErrorBody, ROUTES, type RouteDef } from "./routes.ts";

/**
 * A TypeBox schema as plain JSON Schema (drops TypeBox's symbol keys).
 * @example plain(Type.Object({ a: Type.String() })) // { type: "object", properties: { a: { type: "string" } }, required: ["a"] }
 */
export function plain(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema));
}

/** The bridge's bearer token as an OpenAPI security scheme (`components.securitySchemes.bearer`). */
export const SECURITY_SCHEMES = {
  bearer: {
    type: "http",
    scheme: "bearer",
    description: "The bridge's token (mvmctl serve --token-file; created on first start). Browsers log in once with /?token=TOKEN and then send a cookie, plus X-MVM-CSRF for changes.",
  },
} as const;

/** A response whose body is the bridge's error JSON (`{code, message, data?}`). */
export function errorResponse(description: string): Record<string, unknown> {
  return { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
}

/**
 * The error answers one route can give, by status: 400 for inputs, 401 behind the token, 403 from
 * the gate, 404 for an unknown VM or route, 415 for a change that is not JSON, 502/504 for agent
 * calls, then the route's own (`errors`).
 */
export function errorResponses(r: RouteDef, secured: boolean): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  if (r.query || r.body || r.params) out["400"] = errorResponse("Invalid input: a path, query or body value fails its schema, or an unknown query or body key (E_INVALID_PARAMS, E_BAD_REQUEST)");
  if (!r.public && secured) out["401"] = errorResponse("Missing or wrong bearer token, or no valid login cookie (E_UNAUTHORIZED; WWW-Authenticate: Bearer)");
  out["403"] = errorResponse(
    r.method === "get"
      ? "The Host header does not name this bridge (E_HOST_NOT_ALLOWED), or another site's page tried to load this (E_CROSS_ORIGIN)"
      : "The Host header does not name this bridge (E_HOST_NOT_ALLOWED), the request came from another origin (E_CROSS_ORIGIN), or a login cookie came without the X-MVM-CSRF header (E_CSRF)",
  );
  if (r.params) out["404"] = errorResponse("No VM of that name in vms.json (E_NOT_FOUND)");
  if (r.method !== "get") out["415"] = errorResponse("The body is not sent as Content-Type: application/json (E_UNSUPPORTED_MEDIA_TYPE)");
  if (r.params && r.id !== "logs") {
    out["502"] = errorResponse("The agent answered an error, or could not be reached (its code is passed on: E_BUSY, E_SOCKET_MISSING, ...)");
    out["504"] = errorResponse("The agent did not answer in time (E_CLIENT_TIMEOUT, E_TIMEOUT)");
  }
  for (const [status, when] of Object.entries(r.errors ?? {})) out[status] = errorResponse(when);
  return out;
}

/** The 200 answer of a route: JSON, another content type, and/or server-sent events (whose events are told in the description). */
function okResponse(r: RouteDef): Record<string, unknown> {
  const content: Record<string, unknown> = {};
  if (r.response) content["application/json"] = { schema: plain(r.response) };
  if (r.produces) content[r.produces] = { schema: { type: "string" } };
  let description = "OK";
  if (r.sse) {
    content["text/event-stream"] = { schema: { type: "string", description: "Server-sent events; each data line is JSON unless said otherwise" } };
    description = `OK. As server-sent events (text/event-stream): ${Object.entries(r.sse).map(([e, d]) => `event \`${e}\`: ${d}`).join("; ")}`;
  }
  return Object.keys(content).length ? { description, content } : { description };
}

/** The OpenAPI operation of one route (parameters, body, answers, security). */
export function operation(r: RouteDef, secured: boolean): Record<string, unknown> {
  const parameters: unknown[] = [];
  for (const [name, s] of Object.entries(r.params ?? {})) {
    const p: Record<string, unknown> = { name, in: "path", required: true, schema: plain(s) };
    if (s.description) p.description = s.description;
    parameters.push(p);
  }
  if (r.query) {
    const props = (r.query.properties ?? {}) as Record<string, TSchema>;
    const required = new Set((r.query.required ?? []) as string[]);
    for (const [name, s] of Object.entries(props)) {
      const p: Record<string, unknown> = { name, in: "query", required: required.has(name), schema: plain(s) };
      if (s.type === "array") (p.style = "form"), (p.explode = true);
      if (s.description) p.description = s.description;
      parameters.push(p);
    }
  }
  const op: Record<string, unknown> = {
    operationId: r.id.replace(/-(.)/g, (_, c) => c.toUpperCase()),
    summary: r.summary,
    tags: [tagOf(r)],
    responses: { "200": okResponse(r), ...errorResponses(r, secured) },
  };
  if (parameters.length) op.parameters = parameters;
  if (r.body) op.requestBody = { required: false, content: { "application/json": { schema: plain(r.body) } } };
  if (r.public) op.security = [];
  return op;
}

const TAGS = [
  { name: "vms", description: "The VMs of vms.json and their agents' answers" },
  { name: "lifecycle", description: "Sleep-prep, wake, snapshots and restores" },
  { name: "monitoring", description: "Prometheus metrics and service discovery, and the bridge's own liveness" },
  { name: "dashboard", description: "The dashboard's pages, script and live updates" },
  { name: "meta", description: "This document" },
];

function tagOf(r: RouteDef): string {
  if (["sleep-prep", "wake", "snapshot", "restore"].includes(r.id)) return "lifecycle";
  if (["metrics", "sd", "healthz"].includes(r.id)) return "monitoring";
  if (r.id.startsWith("dashboard") || r.id.startsWith("snapshot-")) return "dashboard";
  if (r.id === "openapi") return "meta";
  return "vms";
}

export interface OpenApiOptions {
  version: string;
  /** The bridge takes a token: operations need `bearer` and document 401. */
  secured: boolean;
  /** The bridge's own origin (`http://127.0.0.1:7070`), as the request named it; default "/": relative to this document. */
  server?: string;
}

/**
 * The OpenAPI 3.1 document of every route in ROUTES. It passes @apidevtools/swagger-parser and
 * `redocly lint` with the recommended ruleset (host/bridge/openapi.test.ts runs both).
 * @example openApiDocument({ version: "0.1.0", secured: true, server: "http://127.0.0.1:7070" })
 */
export function openApiDocument(opts: OpenApiOptions): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const p = r.path.replace(/:([A-Za-z_]+)/g, "{$1}");
    (paths[p] ??= {})[r.method] = operation(r, opts.secured);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "mvm bridge",
      version: opts.version,
      description: "One local HTTP API over many microVM guest agents (docs/bridge.md). Errors are JSON {code, message, data?}.",
    },
    servers: [{ url: opts.server ?? "/", description: "This bridge" }],
    tags: TAGS,
    paths,
    components: { schemas: { Error: plain(ErrorBody) }, securitySchemes: SECURITY_SCHEMES },
    // Without a token (--no-auth, loopback only) no operation needs one; a bearer header is ignored.
    security: opts.secured ? [{ bearer: [] }] : [{}, { bearer: [] }],
  };
}
