// `mvmctl ls`: every VM of the list, queried concurrently with a deadline each; unreachable ones stay listed.

import type { StatusResult } from "../../agent/wire.ts";
import { ClientError } from "../client/agent-client.ts";
import type { VmEntry } from "../client/vm-list.ts";
import { defineCommand, EXIT, type Ctx } from "./command.ts";
import { formatDuration, statusWord, table } from "./format.ts";
import { paint } from "./io.ts";

/** The `health` section of `status` (plugins/health), as far as ls reads it. */
interface HealthSection {
  integrations?: number;
  healthy?: number;
  starting?: number;
  error?: number;
  pending?: number;
  unchecked?: number;
  paused?: number;
  ready?: boolean;
}

/** One row of `ls --json`. */
export interface VmOverviewRow {
  name: string;
  agent: string;
  labels: Record<string, string>;
  reachable: boolean;
  /** Why the VM could not be queried (unreachable, timed out, agent error); null when it answered. */
  error: { code: string; message: string } | null;
  state: string | null;
  version: string | null;
  uptime_secs: number | null;
  worker: "idle" | "busy" | null;
  health: HealthSection | null;
}

function section<T>(st: StatusResult, name: string): T | null {
  const v = st.plugins[name];
  return v && typeof v === "object" ? (v as T) : null;
}

/** Ask one VM for its status; never throws. */
export async function overview(ctx: Ctx, vm: VmEntry): Promise<VmOverviewRow> {
  const row: VmOverviewRow = { name: vm.name, agent: vm.agent, labels: vm.labels ?? {}, reachable: false, error: null, state: null, version: null, uptime_secs: null, worker: null, health: null };
  try {
    const st = await ctx.call(vm, "status");
    row.reachable = true;
    row.state = st.state;
    row.version = st.version;
    row.uptime_secs = st.uptime_secs;
    const w = section<{ status?: unknown }>(st, "worker")?.status;
    row.worker = w === "idle" || w === "busy" ? w : null;
    row.health = section<HealthSection>(st, "health");
  } catch (e) {
    const code = e instanceof ClientError ? e.code : "E_INTERNAL";
    // An agent that answered with an error was reached; one that timed out is shown as unreachable.
    row.reachable = e instanceof ClientError && e.fromAgent;
    row.error = { code, message: e instanceof Error ? e.message : String(e) };
  }
  return row;
}

/** `ready (3 healthy)`, `not ready (1 error, 2 healthy)`, `no integrations`. */
export function healthSummary(h: HealthSection | null, color: boolean): string {
  if (!h) return "-";
  if (!h.integrations) return "no integrations";
  const parts = (["error", "starting", "pending", "paused", "healthy", "unchecked"] as const)
    .filter((k) => (h[k] ?? 0) > 0)
    .map((k) => `${h[k]} ${k}`);
  return `${statusWord(h.ready ? "ready" : "not ready", color)} (${parts.join(", ")})`;
}

export const lsCommand = defineCommand({
  name: "ls",
  summary: "List every VM with reachability, lifecycle state, worker idle/busy and a health summary.",
  usage: "ls [--json]",
  details: `
All VMs are queried at once, each with its own deadline (--timeout, default 5 s). A VM whose agent
cannot be reached is listed as unreachable with the reason; it is never left out.
--json prints an array of { name, agent, labels, reachable, error, state, version, uptime_secs,
worker, health } (health is the agent's health status section, or null).`,
  flags: { json: { type: "boolean", description: "Print JSON instead of a table." } },
  args: { min: 0, max: 0 },
  async run(ctx, { values }) {
    const list = ctx.vms();
    const rows = await Promise.all(list.vms.map((vm) => overview(ctx, vm)));
    if (values.json) {
      ctx.io.out(JSON.stringify(rows, null, 2) + "\n");
      return EXIT.OK;
    }
    if (rows.length === 0) {
      ctx.io.out(`no VMs in ${list.path}\n`);
      return EXIT.OK;
    }
    const c = ctx.io.color;
    const body = rows.map((r) => {
      if (r.state !== null) {
        const up = r.uptime_secs === null ? "-" : formatDuration(r.uptime_secs * 1000);
        return [r.name, statusWord("yes", c), statusWord(r.state, c), statusWord(r.worker ?? "-", c), up, healthSummary(r.health, c)];
      }
      const why = r.error ? `${r.error.code}: ${r.error.message.replace(`${r.name}: `, "")}` : "no answer";
      return [r.name, statusWord(r.reachable ? "yes" : "no", c), "-", "-", "-", paint(c, "red", why)];
    });
    ctx.io.out(table(["NAME", "REACHABLE", "STATE", "WORKER", "UPTIME", "HEALTH"], body, c));
    const down = rows.filter((r) => !r.reachable).length;
    ctx.io.out(`${rows.length} VM${rows.length === 1 ? "" : "s"}: ${rows.length - down} reachable, ${down} unreachable\n`);
    return EXIT.OK;
  },
});
