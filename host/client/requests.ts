// The request schemas the host knows by name (core + plugins that have landed), for typed calls.

import type { Static, TSchema } from "@sinclair/typebox";
import { HelloParams, HelloResult, PingParams, PingResult, StatusParams, StatusResult } from "../../agent/wire.ts";
import { ExecParams, ExecResult } from "../../plugins/exec/schemas.ts";
import { FsDiffParams, FsDiffResult } from "../../plugins/fsdiff/schemas.ts";
import { HealthCheckParams, HealthCheckResult, HealthParams, HealthResult } from "../../plugins/health/schemas.ts";
import { ProbeRunParams, ProbeRunResult, ProbesParams, ProbesResult } from "../../plugins/probes/schemas.ts";
import { SleepPrepParams, SleepPrepResult, WakeParams, WakeResult } from "../../plugins/snapshot/schemas.ts";
import { WorkerStatusParams, WorkerStatusResult } from "../../plugins/worker/schemas.ts";

/** A request's params and result schemas, as the agent registers them. */
export interface RequestSchemas {
  params: TSchema;
  result: TSchema;
}

/**
 * Every request whose schemas the host imports (the same modules the agent uses). The bridge
 * validates input and builds its OpenAPI document from this map; the client types `call` with it.
 * A plugin's requests are added here when its `plugins/<name>/schemas.ts` lands.
 */
export const KNOWN_REQUESTS = {
  ping: { params: PingParams, result: PingResult },
  hello: { params: HelloParams, result: HelloResult },
  status: { params: StatusParams, result: StatusResult },
  health: { params: HealthParams, result: HealthResult },
  "health-check": { params: HealthCheckParams, result: HealthCheckResult },
  probes: { params: ProbesParams, result: ProbesResult },
  "probe-run": { params: ProbeRunParams, result: ProbeRunResult },
  "worker-status": { params: WorkerStatusParams, result: WorkerStatusResult },
  "sleep-prep": { params: SleepPrepParams, result: SleepPrepResult },
  wake: { params: WakeParams, result: WakeResult },
  "fs-diff": { params: FsDiffParams, result: FsDiffResult },
  exec: { params: ExecParams, result: ExecResult },
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
