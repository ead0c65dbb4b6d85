// The `describe` answer: each served request's declaration as JSON (schemas, events, deadline), for hosts and docs.

import type { TSchema } from "@sinclair/typebox";
import { deadlineSecs, type RequestDecl } from "./requests.ts";
import type { DescribedRequest } from "./wire.ts";

/**
 * A TypeBox schema as plain JSON Schema: TypeBox's symbol keys dropped, nothing else changed. A schema
 * that cannot be written as JSON (a BigInt default) becomes `{}` with `x-unrepresentable: true`,
 * rather than failing the whole answer.
 * @example jsonSchema(Type.Object({ who: Type.String() })) // { type: "object", properties: { who: { type: "string" } }, required: ["who"] }
 */
export function jsonSchema(schema: TSchema): Record<string, unknown> {
  try {
    const v = JSON.parse(JSON.stringify(schema)) as unknown;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  return { "x-unrepresentable": true };
}

/**
 * One request's declaration as `describe` answers it.
 * @example describeRequest("acme.greet", "acme", acmeRequests["acme.greet"]) // { type, plugin, description, params, result, ... }
 */
export function describeRequest(type: string, plugin: string, decl: Omit<RequestDecl, "description"> & { description?: string }): DescribedRequest {
  const out: DescribedRequest = {
    type,
    plugin,
    description: decl.description ?? "",
    params: jsonSchema(decl.params),
    result: jsonSchema(decl.result),
  };
  if (decl.events && Object.keys(decl.events).length)
    out.events = Object.fromEntries(Object.entries(decl.events).map(([name, s]) => [name, jsonSchema(s)]));
  if (decl.deadlineParam !== undefined) out.deadline_param = decl.deadlineParam;
  if (typeof decl.timeoutSecs === "number" && decl.timeoutSecs >= 0) out.timeout_secs = decl.timeoutSecs;
  const secs = deadlineSecs({ description: "", ...decl }, {});
  if (typeof secs === "number" && secs >= 0) out.deadline_secs = secs;
  if (decl.work) out.work = true;
  return out;
}
