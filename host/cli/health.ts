// `mvmctl health VM` and `mvmctl probes VM`: integration states and probe values as tables or JSON.

import type { ResultOf } from "../../agent/plugin.ts";
import { defineCommand, EXIT } from "./command.ts";
import { ago, formatDuration, short, statusWord, table } from "./format.ts";
import { paint } from "./io.ts";

type Entry = ResultOf<"health-check">;
type Probe = ResultOf<"probe-run">;

function healthRows(entries: Entry[], now: number, color: boolean): string[][] {
  return entries.map((e) => [
    e.name,
    statusWord(e.status, color),
    ago(e.since, now),
    e.last ? `${e.last.ok ? "ok" : "failed"} ${formatDuration(e.last.duration_ms)}, ${ago(e.last.checked_at, now)}` : "-",
    short(e.detail, 70),
  ]);
}

export const healthCommand = defineCommand({
  name: "health",
  summary: "Show the health of each integration of a VM, and whether the VM is ready for traffic.",
  usage: "health VM [--check NAME] [--json]",
  details: `
Exit code 0 when ready (every integration healthy or unchecked), 1 when not ready.
--check NAME runs that integration's check now and shows its entry (exit 1 unless healthy or unchecked).
--json prints the agent's answer: { integrations: [...], ready } (or the one entry with --check).`,
  flags: {
    json: { type: "boolean", description: "Print the answer as JSON." },
    check: { type: "string", description: "Run this integration's check now (health-check)." },
  },
  args: { min: 1, max: 1 },
  async run(ctx, { values, args }) {
    const vm = ctx.vm(args[0]!);
    const c = ctx.io.color;
    const header = ["NAME", "STATUS", "SINCE", "LAST CHECK", "DETAIL"];
    if (values.check !== undefined) {
      const e = await ctx.call(vm, "health-check", { name: values.check });
      if (values.json) ctx.io.out(JSON.stringify(e, null, 2) + "\n");
      else ctx.io.out(table(header, healthRows([e], ctx.io.now(), c), c));
      return e.status === "healthy" || e.status === "unchecked" ? EXIT.OK : EXIT.NOT_OK;
    }
    const h = await ctx.call(vm, "health");
    if (values.json) ctx.io.out(JSON.stringify(h, null, 2) + "\n");
    else {
      if (h.integrations.length) ctx.io.out(table(header, healthRows(h.integrations, ctx.io.now(), c), c));
      else ctx.io.out("no integrations\n");
      ctx.io.out(`${vm.name}: ${statusWord(h.ready ? "ready" : "not ready", c)}\n`);
    }
    return h.ready ? EXIT.OK : EXIT.NOT_OK;
  },
});

function probeRow(p: Probe, now: number, color: boolean): string[] {
  const value = p.value === null || p.value === undefined ? "-" : short(p.value, 40) + (p.unit ? ` ${p.unit}` : "");
  const state = p.ok === null ? statusWord("pending", color) : p.ok ? statusWord("ok", color) : statusWord("failed", color);
  const when = p.checked_at ? ago(p.checked_at, now) + (p.stale ? ` ${paint(color, "yellow", "(stale)")}` : "") : "-";
  return [p.name, value, state, when, short(p.detail ?? "", 60)];
}

export const probesCommand = defineCommand({
  name: "probes",
  summary: "Show the latest value of each probe of a VM (disk usage, custom metrics).",
  usage: "probes VM [--run NAME] [--json]",
  details: `
A result older than twice its interval is marked (stale).
--run NAME runs that probe now and shows its result (exit 1 if it failed).
--json prints the agent's answer: { probes: [...] } (or the one result with --run).`,
  flags: {
    json: { type: "boolean", description: "Print the answer as JSON." },
    run: { type: "string", description: "Run this probe now (probe-run)." },
  },
  args: { min: 1, max: 1 },
  async run(ctx, { values, args }) {
    const vm = ctx.vm(args[0]!);
    const c = ctx.io.color;
    const header = ["NAME", "VALUE", "OK", "CHECKED", "DETAIL"];
    if (values.run !== undefined) {
      const p = await ctx.call(vm, "probe-run", { name: values.run });
      if (values.json) ctx.io.out(JSON.stringify(p, null, 2) + "\n");
      else ctx.io.out(table(header, [probeRow(p, ctx.io.now(), c)], c));
      return p.ok ? EXIT.OK : EXIT.NOT_OK;
    }
    const r = await ctx.call(vm, "probes");
    if (values.json) ctx.io.out(JSON.stringify(r, null, 2) + "\n");
    else if (r.probes.length === 0) ctx.io.out("no probes\n");
    else ctx.io.out(table(header, r.probes.map((p) => probeRow(p, ctx.io.now(), c)), c));
    return EXIT.OK;
  },
});
