// `mvmctl ls`: the fleet summary of every VM (host/client/fleet.ts) as a table, or as JSON.

import type { FleetSummary, VmSummary } from "../client/fleet.ts";
import { fleetSummary } from "../client/fleet.ts";
import { printable } from "../client/printable.ts";
import { defineCommand, EXIT } from "./command.ts";
import { formatDuration, statusWord, table } from "./format.ts";
import { paint } from "./io.ts";

/** `ready (3 healthy)`, `not ready (1 error, 2 healthy)`, `no integrations`. */
function healthSummary(h: VmSummary["health"], color: boolean): string {
  if (!h) return "-";
  if (!h.integrations) return "no integrations";
  const parts = (["error", "starting", "pending", "paused", "healthy", "unchecked"] as const).filter((k) => h.counts[k] > 0).map((k) => `${h.counts[k]} ${k}`);
  return `${statusWord(h.ready ? "ready" : "not ready", color)} (${parts.join(", ")})`;
}

/** The table: one row per VM, an unreachable or failing one with its reason; then the count. */
function render(s: FleetSummary, color: boolean): string {
  const body = s.vms.map((r) => {
    if (r.state !== null) {
      const up = r.uptime_secs === null ? "-" : formatDuration(r.uptime_secs * 1000);
      return [r.name, statusWord("yes", color), statusWord(r.state, color), statusWord(r.worker ?? "-", color), up, healthSummary(r.health, color)];
    }
    // The reason may carry an agent's own text: escaped, never raw on a console.
    const why = r.error ? printable(`${r.error.code}: ${r.error.message}`, 300) : "no answer";
    return [r.name, statusWord(r.reachable ? "yes" : "no", color), "-", "-", "-", paint(color, "red", why)];
  });
  const down = s.vms.filter((r) => !r.reachable).length;
  const n = s.vms.length;
  return table(["NAME", "REACHABLE", "STATE", "WORKER", "UPTIME", "HEALTH"], body, color) + `${n} VM${n === 1 ? "" : "s"}: ${n - down} reachable, ${down} unreachable\n`;
}

export const lsCommand = defineCommand({
  name: "ls",
  summary: "List every VM with reachability, lifecycle state, worker idle/busy and a health summary.",
  usage: "ls [--json]",
  details: `
All VMs are queried at once, one status call each with its own deadline (--timeout, default 5 s). A
VM whose agent cannot be reached is listed as unreachable with the reason; it is never left out.
--json prints the fleet summary, the same document as the bridge's GET /api/vms:
{ "vms": [{ name, agent, labels, reachable, error, state, version, uptime_secs, worker,
health: { ready, integrations, counts: { healthy, starting, error, pending, unchecked, paused } } }] }
(worker and health are null when the agent has no such plugin). See docs/mvmctl.md.`,
  flags: { json: { type: "boolean", description: "Print the fleet summary as JSON instead of a table." } },
  args: { min: 0, max: 0 },
  async run(ctx, { values }) {
    const list = ctx.vms();
    const summary = await fleetSummary(list.vms, ctx.vmCall, ctx.io.globals.timeoutMs);
    if (values.json) ctx.io.out(JSON.stringify(summary, null, 2) + "\n");
    else if (summary.vms.length === 0) ctx.io.out(`no VMs in ${list.path}\n`);
    else ctx.io.out(render(summary, ctx.io.color));
    return EXIT.OK;
  },
});
