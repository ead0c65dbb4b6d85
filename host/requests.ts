// The request schemas the host knows by name (core + plugins that have landed), for typed calls.

import type { Static, TSchema } from "@sinclair/typebox";
import { HelloParams, HelloResult, PingParams, PingResult, StatusParams, StatusResult } from "../agent/wire.ts";

/** A request's params and result schemas, as the agent registers them. */
export interface RequestSchemas {
  params: TSchema;
  result: TSchema;
}

/**
 * Every request whose schemas the host imports (the same modules the agent uses). The bridge
 * validates input and builds its OpenAPI document from this map; the client types `call` with it.
 * Plugins add theirs here as their `plugins/<name>/schemas.ts` lands.
 */
export const KNOWN_REQUESTS = {
  ping: { params: PingParams, result: PingResult },
  hello: { params: HelloParams, result: HelloResult },
  status: { params: StatusParams, result: StatusResult },
} satisfies Record<string, RequestSchemas>;

type Known = typeof KNOWN_REQUESTS;

/** Params and result types of each known request, derived from the schemas. */
export type KnownRequests = {
  [K in keyof Known]: { params: Static<Known[K]["params"]>; result: Static<Known[K]["result"]> };
};

export type KnownRequestType = keyof KnownRequests;

/** True when the host has schemas for this request name. */
export function isKnownRequest(type: string): type is KnownRequestType {
  return Object.hasOwn(KNOWN_REQUESTS, type);
}
