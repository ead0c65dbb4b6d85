// Every bundled request's declaration in one table (core + plugins), for the host: validation, OpenAPI, deadlines.

import type { RequestDecl, RequestTable } from "../agent/plugin.ts";
import { coreRequests } from "../agent/wire.ts";
import { execRequests } from "./exec/schemas.ts";
import { fsdiffRequests } from "./fsdiff/schemas.ts";
import { healthRequests } from "./health/schemas.ts";
import { probesRequests } from "./probes/schemas.ts";
import { snapshotRequests } from "./snapshot/schemas.ts";
import { workerRequests } from "./worker/schemas.ts";

/**
 * The requests of the core and of every bundled plugin, by wire name: the same entries the agent
 * serves (each plugin pairs its table with handlers through `defineRequests`). Importing this module
 * also brings every bundled plugin's `AgentRequests` declaration into the program, so `call` is typed.
 * The agent binary never imports it (plugins/index.ts is its list).
 * @example deadlineSecs(BUNDLED_REQUESTS["sleep-prep"], { drain_timeout_secs: 10 }) // 10
 */
export const BUNDLED_REQUESTS = {
  ...coreRequests,
  ...healthRequests,
  ...probesRequests,
  ...workerRequests,
  ...snapshotRequests,
  ...fsdiffRequests,
  ...execRequests,
} satisfies RequestTable;

export type BundledRequestName = keyof typeof BUNDLED_REQUESTS;

/** The declaration of a bundled request, if `type` names one. */
export function bundledRequest(type: string): RequestDecl | undefined {
  return Object.hasOwn(BUNDLED_REQUESTS, type) ? (BUNDLED_REQUESTS as RequestTable)[type] : undefined;
}
