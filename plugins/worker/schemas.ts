// Worker shapes: the `worker` section of agent.json (zod) and the `worker-status` wire shapes (TypeBox).

import { Type, type Static } from "@sinclair/typebox";
import type { z } from "zod";
import { lazySchema } from "../../agent/lazy-zod.ts";
import type { RequestTable, RequestTypes } from "../../agent/plugin.ts";

/**
 * `<config-dir>/agent.json` -> `worker: {...}`; flags override each key.
 * @example WorkerConfig.parse({ busy_threshold: 0.5, idle_after_secs: 60 })
 */
export const WorkerConfig = lazySchema((z) =>
  z.object({
  busy_threshold: z.number().min(0).max(1_000_000).default(0.1).describe("Busy when the 1-minute load average is at least this"),
  idle_after_secs: z
    .number()
    .min(0)
    .max(7 * 86_400)
    .default(0)
    .describe("Back to idle only after the load stayed below the threshold this long (0: at once)"),
  sample_interval_secs: z.number().min(1).max(3_600).default(5).describe("Seconds between samples of the load average"),
  loadavg_path: z.string().min(1).default("/proc/loadavg").describe("Where to read the load average (tests point it at a fixture)"),
  }),
);
export type WorkerConfig = z.output<typeof WorkerConfig>;

export const WorkerStatusValue = Type.Union([Type.Literal("idle"), Type.Literal("busy")]);
export type WorkerStatusValue = Static<typeof WorkerStatusValue>;

const Load = Type.Union([Type.Number({ minimum: 0 }), Type.Null()]);

export const WorkerStatusParams = Type.Object({}, { additionalProperties: false });

/** `worker-status`: idle or busy, the load averages of the sample (null when unreadable), and since when. */
export const WorkerStatusResult = Type.Object(
  {
    status: WorkerStatusValue,
    load1: Load,
    load5: Load,
    load15: Load,
    busy_threshold: Type.Number({ minimum: 0 }),
    /** RFC 3339 UTC time the worker was last seen busy; null if never (since start or the last wake). */
    last_busy_at: Type.Union([Type.String(), Type.Null()]),
    /** RFC 3339 UTC time of the last change of `status` (or of the start / last wake). */
    since: Type.String(),
  },
  { additionalProperties: false },
);
export type WorkerStatusResult = Static<typeof WorkerStatusResult>;

/** The worker plugin's requests (agent: plugins/worker/worker.ts; host: plugins/requests.ts). */
export const workerRequests = {
  "worker-status": {
    params: WorkerStatusParams,
    result: WorkerStatusResult,
    description: "Idle or busy (for autoscaling), from the load average and work in flight; each call takes a fresh sample.",
  },
} satisfies RequestTable;

declare module "../../agent/plugin.ts" {
  interface AgentRequests extends RequestTypes<typeof workerRequests> {}
}
