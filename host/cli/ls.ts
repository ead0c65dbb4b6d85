// `mvmctl ls`: the fleet summary of every VM (host/client/fleet.ts) as a table, names or JSON; `--watch` keeps it current.

import type { FleetSummary, VmSummary } from "../client/fleet.ts";
import { fleetSummary } from "../client/fleet.ts";
import { printable } from "../client/printable.ts";
import { defineCommand, EXIT } from "./command.ts";
import { formatDuration, short, statusWord } from "./format.ts";
import { paint } from "./io.ts";
import { outputMode, TABLE_FORMATS, TABLE_OUTPUT } from "./output.ts";
import { renderOptions, renderView, type TableView } from "./view.ts";
import { checkWatchFlags, WATCH_FLAGS, watchView } from "./watch.ts";

/** `ready (3 healthy)`, `not ready (1 error, 2 healthy)`, `no integrations`. */
function healthSummary(h: VmSummary["health"], color: boolean): string {
  if (!h) return "-";
  if (!h.integrations) return "no integrations";
  const parts = (["error", "starting", "pending", "paused", "healthy", "unchecked"] as const).filter((k) => h.counts[k] > 0).map((k) => `${h.counts[k]} ${k}`);
  return `${statusWord(h.ready ? "ready" : "not ready", color)} (${parts.join(", ")})`;
}

/** The fleet as a view: one row per VM, an unreachable or failing one with its reason; then the count. */
export function lsView(s: FleetSummary, color: boolean): TableView {
  const rows = s.vms.map((r) => {
    const labels = Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(",");
    const wide = [printable(r.agent, 300), short(r.version ?? "-", 40), short(labels || "-", 200)];
    const health = healthSummary(r.health, false);
    const key = JSON.stringify([r.reachable, r.state, r.worker, health, r.error?.code ?? null, r.version]);
    if (r.state !== null) {
      const up = r.uptime_secs === null ? "-" : formatDuration(r.uptime_secs * 1000);
      return { id: r.name, key, cells: [r.name, statusWord("yes", color), statusWord(r.state, color), statusWord(r.worker ?? "-", color), up, healthSummary(r.health, color)], wide };
    }
    // The reason may carry an agent's own text: escaped, never raw on a console.
    const why = r.error ? printable(`${r.error.code}: ${r.error.message}`, 300) : "no answer";
    return { id: r.name, key, cells: [r.name, statusWord(r.reachable ? "yes" : "no", color), "-", "-", "-", paint(color, "red", why)], wide };
  });
  const down = s.vms.filter((r) => !r.reachable).length;
  const n = s.vms.length;
  return {
    header: ["NAME", "REACHABLE", "STATE", "WORKER", "UPTIME", "HEALTH"],
    wideHeader: ["AGENT", "VERSION", "LABELS"],
    rows,
    footer: n ? `${n} VM${n === 1 ? "" : "s"}: ${n - down} reachable, ${down} unreachable` : undefined,
    doc: s,
  };
}

export const lsCommand = defineCommand({
  name: "ls",
  summary: "List every VM with reachability, lifecycle state, worker idle/busy and a health summary.",
  usage: "ls [-o json|wide|name] [--no-headers] [--watch [--interval SECS]]",
  details: `
All VMs are queried at once, one status call each with its own deadline (--timeout, default 5 s). A
VM whose agent cannot be reached is listed as unreachable with the reason; it is never left out.
-o wide adds AGENT, VERSION and LABELS; -o name prints the names only.
-o json (or --json) prints the fleet summary, the same document as the bridge's GET /api/vms:
{ "vms": [{ name, agent, labels, reachable, error, state, version, uptime_secs, worker,
health: { ready, integrations, counts: { healthy, starting, error, pending, unchecked, paused } } }] }
(worker and health are null when the agent has no such plugin).
--watch asks again every --interval seconds: on a terminal the table is redrawn in place; elsewhere
a VM's row is printed again when it changes (with -o json, one compact document a line). Ctrl-C
stops it (exit 0). See docs/mvmctl.md.`,
  flags: { ...TABLE_OUTPUT, ...WATCH_FLAGS },
  args: { min: 0, max: 0 },
  complete: { values: { output: TABLE_FORMATS } },
  async run(ctx, { values }) {
    const mode = outputMode("ls", values, TABLE_FORMATS);
    const list = ctx.vms();
    // A watch reads vms.json again each time: VMs added or removed show up.
    const fetch = async () => lsView(await fleetSummary((values.watch ? ctx.reloadVms() : list).vms, ctx.vmCall, ctx.io.globals.timeoutMs), ctx.io.color);
    if (values.watch) return watchView(ctx, "ls", fetch, mode, values);
    checkWatchFlags("ls", values);
    const view = await fetch();
    if (view.rows.length === 0 && mode !== "json") {
      if (mode === "table" || mode === "wide") ctx.io.out(`no VMs in ${printable(list.path)}\n`);
      return EXIT.OK;
    }
    ctx.io.out(renderView(view, renderOptions(ctx.io, mode, values["no-headers"])));
    return EXIT.OK;
  },
});
