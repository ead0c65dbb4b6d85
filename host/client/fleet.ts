// The fleet summary: one `status` call per VM, all at once, as one JSON document (`mvmctl ls --json` and GET /api/vms).

import { Type, type Static } from "@sinclair/typebox";
import { compiled } from "../../agent/router.ts";
import { HealthStatusSection } from "../../plugins/health/schemas.ts";
import { WorkerStatusValue } from "../../plugins/worker/schemas.ts";
import { collectAll, type VmCall, type VmOverview } from "./overview.ts";
import type { VmEntry } from "./vm-list.ts";

const Strict = { additionalProperties: false } as const;
const Count = Type.Integer({ minimum: 0 });

/** Integrations by state, from the health plugin's status section. */
const HealthSummarySchema = Type.Object(
  {
    ready: Type.Boolean({ description: "every integration healthy or unchecked" }),
    integrations: Count,
    counts: Type.Object({ healthy: Count, starting: Count, error: Count, pending: Count, unchecked: Count, paused: Count }, Strict),
  },
  Strict,
);

/** One VM of the summary. */
const VmSummarySchema = Type.Object(
  {
    name: Type.String(),
    agent: Type.String({ description: "the agent address from vms.json" }),
    labels: Type.Record(Type.String(), Type.String()),
    reachable: Type.Boolean({ description: "the agent answered status (an error answer counts: the agent is there)" }),
    error: Type.Union([Type.Null(), Type.Object({ code: Type.String(), message: Type.String() }, Strict)], { description: "why there is no status: unreachable, timed out, an agent error, or an answer that breaks its schema (E_PROTOCOL)" }),
    state: Type.Union([Type.Null(), Type.String({ description: "running | preparing | sleeping" })]),
    version: Type.Union([Type.Null(), Type.String()]),
    uptime_secs: Type.Union([Type.Null(), Type.Number({ minimum: 0 })]),
    worker: Type.Union([Type.Null(), WorkerStatusValue], { description: "null: no worker plugin" }),
    health: Type.Union([Type.Null(), HealthSummarySchema], { description: "null: no health plugin" }),
  },
  Strict,
);

/** The whole document. */
export const FleetSummarySchema = Type.Object({ vms: Type.Array(VmSummarySchema) }, Strict);

export type VmSummary = Static<typeof VmSummarySchema>;
export type FleetSummary = Static<typeof FleetSummarySchema>;

const healthSection = compiled(HealthStatusSection);
const workerSection = compiled(Type.Object({ status: WorkerStatusValue }));

/** One VM's row from its overview: plugin sections are read only when they match their schemas. */
function summarize(o: VmOverview): VmSummary {
  const st = o.status;
  const h = st?.plugins.health;
  const w = st?.plugins.worker;
  return {
    name: o.vm.name,
    agent: o.vm.agent,
    labels: o.vm.labels ?? {},
    reachable: o.reachable,
    error: o.error,
    state: st?.state ?? null,
    version: st?.version ?? null,
    uptime_secs: st?.uptime_secs ?? null,
    worker: workerSection.Check(w) ? w.status : null,
    health: healthSection.Check(h)
      ? { ready: h.ready, integrations: h.integrations, counts: { healthy: h.healthy, starting: h.starting, error: h.error, pending: h.pending, unchecked: h.unchecked, paused: h.paused } }
      : null,
  };
}

/**
 * Every VM's summary, in list order, one `status` call each (concurrently, each under `timeoutMs`).
 * Never throws: an unreachable or misbehaving agent is a row with `error`.
 * @example const { vms } = await fleetSummary(list.vms, pool.call, 5000);
 */
export async function fleetSummary(vms: readonly VmEntry[], call: VmCall, timeoutMs: number): Promise<FleetSummary> {
  return { vms: (await collectAll(vms, call, timeoutMs)).map(summarize) };
}
