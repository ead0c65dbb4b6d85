// `mvmctl health VM` and `mvmctl probes VM`: integration states and probe values as tables, names or JSON; `--watch`.

import type { ResultOf } from "../../agent/plugin.ts";
import { FlagError } from "../../agent/argv.ts";
import { defineCommand, EXIT, type Ctx } from "./command.ts";
import { ago, formatDuration, safeText, short, statusWord } from "./format.ts";
import { paint } from "./io.ts";
import { outputMode, TABLE_FORMATS, TABLE_OUTPUT, type OutputMode } from "./output.ts";
import { renderOptions, renderView, type TableView, type ViewRow } from "./view.ts";
import { checkWatchFlags, WATCH_FLAGS, watchView } from "./watch.ts";

type Entry = ResultOf<"health-check">;
type Skipped = { file: string; message: string }[] | undefined;

/** One line per drop-in file the agent skipped (they make health not ready); escaped, as every agent text. */
function skippedLines(skipped: Skipped): string {
  return (skipped ?? []).map((s) => `skipped ${safeText(s.file)}: ${short(s.message, 200)}\n`).join("");
}
type Probe = ResultOf<"probe-run">;

function healthRow(e: Entry, now: number, color: boolean): ViewRow {
  const exit = e.last ? (e.last.timed_out ? "timed out" : e.last.signal ? short(e.last.signal, 20) : String(e.last.exit_code)) : "-";
  return {
    id: short(e.name, 64),
    key: JSON.stringify([e.status, e.detail, e.consecutive_failures > 0]),
    cells: [
      short(e.name, 64),
      statusWord(e.status, color),
      ago(e.since, now),
      e.last ? `${e.last.ok ? "ok" : "failed"} ${formatDuration(e.last.duration_ms)}, ${ago(e.last.checked_at, now)}` : "-",
      short(e.detail),
    ],
    wide: [String(e.consecutive_failures), exit, short(e.last?.output || "-", 200)],
  };
}

/** The health answer (or one entry) as a view; the footer says ready or not. */
function healthView(entries: Entry[], doc: unknown, verdict: string | undefined, now: number, color: boolean): TableView {
  return {
    header: ["NAME", "STATUS", "SINCE", "LAST CHECK", "DETAIL"],
    wideHeader: ["FAILURES", "EXIT", "OUTPUT"],
    rows: entries.map((e) => healthRow(e, now, color)),
    empty: "no integrations",
    footer: verdict,
    doc,
  };
}

/** `--watch` excludes running one check or probe now (`--check`, `--run`). */
function oneShot(cmd: string, flag: string, values: { watch?: boolean | undefined }): void {
  if (values.watch) throw new FlagError(`${cmd}: --${flag} runs once; it cannot be watched (leave out --watch)`);
}

/** Print a view in its mode (the plain path of health and probes). */
function show(ctx: Ctx, view: TableView, mode: OutputMode, noHeaders: boolean | undefined): void {
  ctx.io.out(renderView(view, renderOptions(ctx.io, mode, noHeaders)));
}

export const healthCommand = defineCommand({
  name: "health",
  summary: "Show the health of each integration of a VM, and whether the VM is ready for traffic.",
  usage: "health VM [--check NAME] [-o json|wide|name] [--no-headers] [--watch [--interval SECS]]",
  details: `
Exit code 0 when ready (every integration healthy or unchecked, and no integrations.d file skipped), 1 when
not ready. Each skipped file shows as a line "skipped FILE: reason" above the verdict.
--check NAME runs that integration's check now and shows its entry (exit 1 unless healthy or unchecked).
-o wide adds FAILURES (consecutive), EXIT and OUTPUT of the last check; -o name prints the names.
-o json (or --json) prints the agent's answer: { integrations: [...], ready } (or the one entry with --check).
--watch asks again every --interval seconds (redrawn on a terminal, one line per change elsewhere);
Ctrl-C stops it with exit 0.`,
  flags: {
    ...TABLE_OUTPUT,
    check: { type: "string", arg: "NAME", description: "Run this integration's check now (health-check)." },
    ...WATCH_FLAGS,
  },
  args: { min: 1, max: 1 },
  complete: { args: ["vm"], values: { output: TABLE_FORMATS } },
  async run(ctx, { values, args }) {
    const vm = ctx.vm(args[0]!);
    const mode = outputMode("health", values, TABLE_FORMATS);
    const c = ctx.io.color;
    if (values.check !== undefined) {
      oneShot("health", "check", values);
      checkWatchFlags("health", values);
      const e = await ctx.call(vm, "health-check", { name: values.check });
      show(ctx, healthView([e], e, undefined, ctx.io.now(), c), mode, values["no-headers"]);
      return e.status === "healthy" || e.status === "unchecked" ? EXIT.OK : EXIT.NOT_OK;
    }
    const fetch = async () => {
      const h = await ctx.call(vm, "health");
      const verdict = `${skippedLines(h.skipped_files)}${vm.name}: ${statusWord(h.ready ? "ready" : "not ready", c)}`;
      return { h, view: healthView(h.integrations, h, verdict, ctx.io.now(), c) };
    };
    if (values.watch) return watchView(ctx, "health", async () => (await fetch()).view, mode, values);
    checkWatchFlags("health", values);
    const { h, view } = await fetch();
    show(ctx, view, mode, values["no-headers"]);
    return h.ready ? EXIT.OK : EXIT.NOT_OK;
  },
});

function probeRow(p: Probe, now: number, color: boolean): ViewRow {
  const value = p.value === null || p.value === undefined ? "-" : short(p.value, 40) + (p.unit ? ` ${short(p.unit, 20)}` : "");
  const state = p.ok === null ? statusWord("pending", color) : p.ok ? statusWord("ok", color) : statusWord("failed", color);
  const when = p.checked_at ? ago(p.checked_at, now) + (p.stale ? ` ${paint(color, "yellow", "(stale)")}` : "") : "-";
  const exit = p.timed_out ? "timed out" : p.exit_code === null ? "-" : String(p.exit_code);
  return {
    id: short(p.name, 64),
    key: JSON.stringify([p.value, p.ok, p.stale, p.detail]),
    cells: [short(p.name, 64), value, state, when, short(p.detail ?? "")],
    wide: [exit, p.duration_ms === null ? "-" : formatDuration(p.duration_ms), short(p.output ?? "-", 200)],
  };
}

function probesView(probes: Probe[], doc: unknown, now: number, color: boolean, skipped?: Skipped): TableView {
  const footer = skippedLines(skipped) || undefined;
  return { header: ["NAME", "VALUE", "OK", "CHECKED", "DETAIL"], wideHeader: ["EXIT", "TOOK", "OUTPUT"], rows: probes.map((p) => probeRow(p, now, color)), empty: "no probes", footer, doc };
}

export const probesCommand = defineCommand({
  name: "probes",
  summary: "Show the latest value of each probe of a VM (disk usage, custom metrics).",
  usage: "probes VM [--run NAME] [-o json|wide|name] [--no-headers] [--watch [--interval SECS]]",
  details: `
A result older than twice its interval is marked (stale). Each probes.d file the agent skipped shows as a
line "skipped FILE: reason" under the table.
--run NAME runs that probe now and shows its result (exit 1 if it failed).
-o wide adds EXIT, TOOK and OUTPUT of the last run; -o name prints the names.
-o json (or --json) prints the agent's answer: { probes: [...] } (or the one result with --run).
--watch asks again every --interval seconds (redrawn on a terminal, one line per change elsewhere);
Ctrl-C stops it with exit 0.`,
  flags: {
    ...TABLE_OUTPUT,
    run: { type: "string", arg: "NAME", description: "Run this probe now (probe-run)." },
    ...WATCH_FLAGS,
  },
  args: { min: 1, max: 1 },
  complete: { args: ["vm"], values: { output: TABLE_FORMATS } },
  async run(ctx, { values, args }) {
    const vm = ctx.vm(args[0]!);
    const mode = outputMode("probes", values, TABLE_FORMATS);
    const c = ctx.io.color;
    if (values.run !== undefined) {
      oneShot("probes", "run", values);
      checkWatchFlags("probes", values);
      const p = await ctx.call(vm, "probe-run", { name: values.run });
      show(ctx, probesView([p], p, ctx.io.now(), c), mode, values["no-headers"]);
      return p.ok ? EXIT.OK : EXIT.NOT_OK;
    }
    const fetch = async () => {
      const r = await ctx.call(vm, "probes");
      return probesView(r.probes, r, ctx.io.now(), c, r.skipped_files);
    };
    if (values.watch) return watchView(ctx, "probes", fetch, mode, values);
    checkWatchFlags("probes", values);
    show(ctx, await fetch(), mode, values["no-headers"]);
    return EXIT.OK;
  },
});
