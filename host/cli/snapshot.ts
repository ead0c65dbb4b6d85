// `mvmctl sleep-prep VM` and `mvmctl wake VM`: prepare a guest for a snapshot, and wake it after restore.

import type { ParamsOf, ResultOf } from "../../agent/plugin.ts";
import { callDeadlineMs, paramLimits } from "../client/deadlines.ts";
import { defineCommand, EXIT, secondsFlag } from "./command.ts";
import { formatDuration, statusWord, safeText } from "./format.ts";
import { paint } from "./io.ts";

type Step = ResultOf<"sleep-prep">["steps"][number];

/** sleep-prep's drain: its cap and default, from SleepPrepParams. */
const DRAIN = paramLimits("sleep-prep", "drain_timeout_secs");

function stepLines(steps: Step[], color: boolean): string {
  const w = Math.max(4, ...steps.map((s) => s.name.length));
  return steps
    .map((s) => `  ${s.ok ? statusWord("ok", color) + "  " : paint(color, "red", "FAIL")}  ${safeText(s.name).padEnd(w)}  ${formatDuration(s.duration_ms).padStart(8)}${s.detail ? `  ${safeText(s.detail)}` : ""}\n`)
    .join("");
}

export const sleepPrepCommand = defineCommand({
  name: "sleep-prep",
  summary: "Prepare a VM for a snapshot: pause schedulers, run checkpoints, sync, drop caches.",
  usage: "sleep-prep VM [--drain-timeout SECS] [--json]",
  details: `
Prints each step and whether the guest is ready. Exit code 0 when ready, 1 when not (a critical
checkpoint failed): do not snapshot then. The call waits for the drain deadline plus --timeout.
--json prints the agent's answer: { ready, state, steps: [{ name, ok, duration_ms, detail }], duration_ms }.`,
  flags: {
    "drain-timeout": { type: "number", description: `Seconds everything must fit in (the agent's default is ${DRAIN.default}).` },
    json: { type: "boolean", description: "Print the answer as JSON." },
  },
  args: { min: 1, max: 1 },
  async run(ctx, { values, args }) {
    const vm = ctx.vm(args[0]!);
    const drain = secondsFlag("sleep-prep", "drain-timeout", values["drain-timeout"], DRAIN.maximum);
    const params: ParamsOf<"sleep-prep"> = drain === undefined ? {} : { drain_timeout_secs: drain };
    // The drain the agent will use (this one, or its schema's default), plus --timeout.
    const r = await ctx.call(vm, "sleep-prep", params, { timeoutMs: callDeadlineMs("sleep-prep", params, ctx.io.globals.timeoutMs) });
    const c = ctx.io.color;
    if (values.json) ctx.io.out(JSON.stringify(r, null, 2) + "\n");
    else ctx.io.out(`${vm.name}: ${statusWord(r.ready ? "ready" : "not ready", c)} for a snapshot in ${formatDuration(r.duration_ms)} (state ${r.state})\n${stepLines(r.steps, c)}`);
    return r.ready ? EXIT.OK : EXIT.NOT_OK;
  },
});

export const wakeCommand = defineCommand({
  name: "wake",
  summary: "Wake a VM after its snapshot was restored: set its clock, run restores, resume checks.",
  usage: "wake VM [--no-clock] [--json]",
  details: `
Sends the host's current time so that the guest reports its clock skew and sets its clock (when it
may); --no-clock leaves the guest's clock alone. Exit code 1 when a restore command failed.
--json prints the agent's answer: { was_sleeping, clock_skew_ms, clock_set, steps, duration_ms }.`,
  flags: {
    clock: { type: "boolean", description: "Send the host's time (use --no-clock to leave the guest clock alone).", default: true },
    json: { type: "boolean", description: "Print the answer as JSON." },
  },
  args: { min: 1, max: 1 },
  async run(ctx, { values, args }) {
    const vm = ctx.vm(args[0]!);
    const params: ParamsOf<"wake"> = values.clock ? { wall_clock: new Date(ctx.io.now()).toISOString() } : {};
    const r = await ctx.call(vm, "wake", params, { timeoutMs: callDeadlineMs("wake", params, ctx.io.globals.timeoutMs) });
    const failed = r.steps.some((s) => !s.ok && s.name.startsWith("restore:"));
    if (values.json) ctx.io.out(JSON.stringify(r, null, 2) + "\n");
    else {
      const c = ctx.io.color;
      const notes = [r.was_sleeping ? "was sleeping" : "was not sleeping: nothing to do"];
      if (r.clock_skew_ms !== null) notes.push(`clock skew ${r.clock_skew_ms >= 0 ? "+" : ""}${Math.round(r.clock_skew_ms)} ms${r.clock_set ? ", clock set" : ", clock not set"}`);
      ctx.io.out(`${vm.name}: ${failed ? paint(c, "red", "woke with failures") : statusWord("awake", c)} in ${formatDuration(r.duration_ms)} (${notes.join("; ")})\n${stepLines(r.steps, c)}`);
    }
    return failed ? EXIT.NOT_OK : EXIT.OK;
  },
});
