// /openapi.json, generated from the bridge's route table (routes.ts): nothing here is written by hand per route.

import type { TSchema } from "@sinclair/typebox";
import { ErrorBody, ROUTES, type RouteDef } from "./routes.ts";

/** A TypeBox schema as plain JSON Schema (drops TypeBox's symbol keys). */
function plain(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema));
}

function operation(r: RouteDef, secured: boolean): Record<string, unknown> {
  const parameters: unknown[] = [];
  for (const [name, s] of Object.entries(r.params ?? {})) parameters.push({ name, in: "path", required: true, schema: plain(s) });
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
  const ok: Record<string, unknown> = { description: "OK" };
  const content: Record<string, unknown> = {};
  if (r.response) content["application/json"] = { schema: plain(r.response) };
  if (r.produces) content[r.produces] = { schema: { type: "string" } };
  if (r.sse)
    content["text/event-stream"] = {
      schema: { type: "string" },
      description: Object.entries(r.sse).map(([e, d]) => `event \`${e}\`: ${d}`).join("; "),
    };
  if (Object.keys(content).length) ok.content = content;
  const err = (description: string) => ({ description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } });
  const responses: Record<string, unknown> = { "200": ok };
  if (r.query || r.body || r.params) responses["400"] = err("Invalid input (E_INVALID_PARAMS, E_BAD_REQUEST)");
  if (!r.public && secured) responses["401"] = err("Missing or wrong bearer token (E_UNAUTHORIZED)");
  responses["403"] = err(
    r.method === "get"
      ? "The Host header does not name this bridge (E_HOST_NOT_ALLOWED), or another site's page tried to load this (E_CROSS_ORIGIN)"
      : "The Host header does not name this bridge (E_HOST_NOT_ALLOWED), the request came from another origin (E_CROSS_ORIGIN), or a login cookie came without the X-MVM-CSRF header (E_CSRF)",
  );
  if (r.method !== "get") responses["415"] = err("The body is not sent as Content-Type: application/json (E_UNSUPPORTED_MEDIA_TYPE)");
  if (r.params) {
    responses["404"] = err("No VM of that name (E_NOT_FOUND)");
    responses["502"] = err("The agent answered an error, or could not be reached (its code is passed on)");
    responses["504"] = err("The agent did not answer in time (E_TIMEOUT)");
  }
  for (const [status, when] of Object.entries(r.errors ?? {})) responses[status] = err(when);
  const op: Record<string, unknown> = { operationId: r.id.replace(/-(.)/g, (_, c) => c.toUpperCase()), summary: r.summary, responses };
  if (parameters.length) op.parameters = parameters;
  if (r.body) op.requestBody = { required: false, content: { "application/json": { schema: plain(r.body) } } };
  if (r.public) op.security = [];
  return op;
}

/** The OpenAPI 3.1 document of every route in ROUTES. */
export function openApiDocument(opts: { version: string; secured: boolean }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const p = r.path.replace(/:([A-Za-z_]+)/g, "{$1}");
    (paths[p] ??= {})[r.method] = operation(r, opts.secured);
  }
  const doc: Record<string, unknown> = {
    openapi: "3.1.0",
    info: { title: "mvm bridge", version: opts.version, description: "One local HTTP API over many microVM guest agents." },
    paths,
    components: {
      schemas: { Error: plain(ErrorBody) },
      ...(opts.secured ? { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } } : {}),
    },
  };
  if (opts.secured) doc.security = [{ bearer: [] }];
  return doc;
}
