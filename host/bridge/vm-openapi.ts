// GET /api/vms/:name/openapi.json: one VM's OpenAPI 3.1 document, built from its agent's `describe`, so every request
// it serves (custom plugins' included) has a typed path of its own: POST /api/vms/NAME/call/TYPE.

import { describeRequest } from "../../agent/describe.ts";
import { RequestType, type DescribedRequest, type DescribeResult } from "../../agent/wire.ts";
import { bundledRequest } from "../../plugins/requests.ts";
import { ErrorBody } from "./routes.ts";
import { callFailureStatuses, type HttpStatus } from "./errors.ts";

/** What the document is built from: the VM's name, its agent's describe answer (or what stands in for it). */
export interface VmApiSource {
  vm: string;
  /** The bridge's version (the document's `info.version`). */
  version: string;
  /** The bridge requires a token (documents the bearer scheme and 401). */
  secured: boolean;
  /** The agent's own description: `describe`'s answer. */
  described: Pick<DescribeResult, "agent" | "version" | "build" | "protocol" | "requests">;
  /** True when the agent had no `describe` (an older agent): the requests come from `hello`. */
  fromHello?: boolean;
}

/**
 * Stand in for `describe` with an older agent's `hello`: each request it names (names that are not
 * request names are left out), with its bundled declaration when the host has one, else with schemas
 * that accept any object and any result.
 * @example describedFromHello(helloResult).requests.find((r) => r.type === "acme.greet")?.params // { type: "object" }
 */
export function describedFromHello(hello: { agent: string; version: string; build: "prod" | "dev"; protocol: number; requests: string[] }): VmApiSource["described"] {
  const name = new RegExp(RequestType.pattern!);
  const requests: DescribedRequest[] = hello.requests.filter((t) => name.test(t)).map((type) => {
    const decl = bundledRequest(type);
    if (decl) return describeRequest(type, "(bundled)", decl);
    return { type, plugin: "(unknown)", description: "A request this agent serves; it did not describe it (an agent before describe).", params: { type: "object" }, result: {} };
  });
  return { agent: hello.agent, version: hello.version, build: hello.build, protocol: hello.protocol, requests };
}

/** A `$ref` a schema may keep: within the document (`#/...`) or to a TypeBox `$id` of the same schema (`T0`). */
const LOCAL_REF = /^(#.*|[A-Za-z0-9_.-]{1,128})$/;

/**
 * An agent's schema as the document may carry it: `$ref`s to anything but the schema itself (a URL, a
 * path: a tool that dereferences the document would fetch it) are dropped and marked, and nesting past
 * 64 levels is cut. The agent is not trusted to hand the host only its own declarations.
 * @example agentSchema({ $ref: "http://evil.example/x" }) // { "x-mvm-dropped-ref": "http://evil.example/x" }
 */
export function agentSchema(value: unknown, depth = 0): unknown {
  if (depth > 64) return { "x-mvm-cut": true };
  if (Array.isArray(value)) return value.map((v) => agentSchema(v, depth + 1));
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === "$ref" && (typeof v !== "string" || !LOCAL_REF.test(v))) out["x-mvm-dropped-ref"] = typeof v === "string" ? v.slice(0, 200) : true;
    else out[k] = agentSchema(v, depth + 1);
  }
  return out;
}

/** An OpenAPI component name for a request's schema: `acme.greet.params` (only A-Z a-z 0-9 . _ -). */
function componentName(type: string, part: string): string {
  return `${type}.${part}`.replace(/[^A-Za-z0-9._-]/g, "_");
}

/** A unique operationId per request: `call_acme_greet`. */
function operationIds(types: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  for (const t of types) {
    const base = `call_${t.replace(/[^A-Za-z0-9]+/g, "_")}`;
    let id = base;
    for (let i = 2; used.has(id); i++) id = `${base}_${i}`;
    used.add(id);
    out.set(t, id);
  }
  return out;
}

const requiresBody = (params: Record<string, unknown>) => Array.isArray(params.required) && params.required.length > 0;

/** When each status of a failed call comes, from the status table (errors.ts). */
function failureResponses(secured: boolean): Record<string, unknown> {
  const ref = { content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
  const out: Record<string, unknown> = {};
  const extra: Partial<Record<HttpStatus, string>> = {
    400: "the body is not a JSON object (E_BAD_REQUEST), or fails the request's params (E_INVALID_PARAMS, `data`: [{path, message}])",
    404: "no VM of that name in vms.json (E_NOT_FOUND), or the agent's own",
  };
  if (secured) out["401"] = { description: "Missing or wrong bearer token (E_UNAUTHORIZED)", ...ref };
  out["403"] = { description: "The Host header does not name this bridge (E_HOST_NOT_ALLOWED), the request came from another origin (E_CROSS_ORIGIN), or a login cookie came without X-MVM-CSRF (E_CSRF)", ...ref };
  out["415"] = { description: "The body is not sent as Content-Type: application/json (E_UNSUPPORTED_MEDIA_TYPE)", ...ref };
  for (const [status, codes] of callFailureStatuses()) {
    const text = `The call failed: ${codes.join(", ")}` + (extra[status] ? `; also ${extra[status]}` : "");
    out[String(status)] = { description: text, ...ref };
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => Number(a) - Number(b)));
}

/**
 * The OpenAPI 3.1 document of one VM: a POST path per request its agent serves
 * (`/api/vms/NAME/call/TYPE`), the body its params schema, the answer its result schema, its
 * streaming events (as `text/event-stream`, with `x-mvm-events` giving each event's data schema),
 * its deadline, and the statuses a failed call gets.
 * @example vmOpenApiDocument({ vm: "web1", version: "0.1.0", secured: true, described: await client.call("describe") })
 */
export function vmOpenApiDocument(src: VmApiSource): Record<string, unknown> {
  const requests = [...src.described.requests].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  const ids = operationIds(requests.map((r) => r.type));
  const schemas: Record<string, unknown> = { Error: JSON.parse(JSON.stringify(ErrorBody)) };
  const failures = failureResponses(src.secured);
  const paths: Record<string, unknown> = {};
  for (const r of requests) {
    const params = componentName(r.type, "params");
    const result = componentName(r.type, "result");
    schemas[params] = agentSchema(r.params);
    schemas[result] = agentSchema(r.result);
    const content: Record<string, unknown> = { "application/json": { schema: { $ref: `#/components/schemas/${result}` } } };
    const events = Object.keys(r.events ?? {});
    let ok = "The request's result";
    if (events.length) {
      content["text/event-stream"] = { schema: { type: "string" } };
      ok += `; with ?stream=1 or Accept: text/event-stream, server-sent events: ${events.map((e) => `\`${e}\``).join(", ")} (data: JSON, schemas in x-mvm-events), then \`result\` (the result) or \`error\` ({code, message, status})`;
    }
    const deadline =
      r.deadline_param !== undefined
        ? ` The work is bounded by the \`${r.deadline_param}\` param (${r.deadline_secs ?? "no"} s when left out); the bridge waits that long plus its call timeout.`
        : r.deadline_secs !== undefined
          ? ` The work may take up to ${r.deadline_secs} s; the bridge waits that long plus its call timeout.`
          : "";
    const op: Record<string, unknown> = {
      operationId: ids.get(r.type),
      summary: r.description || r.type,
      description: `The agent's \`${r.type}\` request, served by its \`${r.plugin}\` plugin.${deadline}`,
      tags: [r.plugin],
      parameters: [
        {
          name: "stream",
          in: "query",
          required: false,
          schema: { type: "boolean" },
          description: "1/true: answer as server-sent events (also: Accept: text/event-stream)",
        },
      ],
      requestBody: { required: requiresBody(r.params), content: { "application/json": { schema: { $ref: `#/components/schemas/${params}` } } } },
      responses: { "200": { description: ok, content }, ...failures },
    };
    if (r.events && events.length) op["x-mvm-events"] = agentSchema(r.events);
    if (r.deadline_param !== undefined || r.deadline_secs !== undefined)
      op["x-mvm-deadline"] = { ...(r.deadline_param !== undefined ? { param: r.deadline_param } : {}), ...(r.deadline_secs !== undefined ? { default_secs: r.deadline_secs } : {}) };
    paths[`/api/vms/${encodeURIComponent(src.vm)}/call/${r.type}`] = { post: op };
  }
  const doc: Record<string, unknown> = {
    openapi: "3.1.0",
    info: {
      title: `mvm bridge: VM ${src.vm}`,
      version: src.version,
      description:
        `Every request the agent of VM ${src.vm} serves (${src.described.agent} ${src.described.version}, ${src.described.build} build, protocol ${src.described.protocol}), ` +
        `each at its own path of the bridge's call route, typed from the agent's ${src.fromHello ? "hello (an agent before describe: custom requests are untyped)" : "describe"}.`,
    },
    tags: [...new Set(requests.map((r) => r.plugin))].sort().map((name) => ({ name, description: `Requests of the ${name} plugin` })),
    paths,
    components: {
      schemas,
      ...(src.secured ? { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } } : {}),
    },
  };
  if (src.secured) doc.security = [{ bearer: [] }];
  return doc;
}
