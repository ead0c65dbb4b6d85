// `mvmctl sleep-prep VM` and `mvmctl wake VM`: prepare a guest for a snapshot, and wake it after restore.

import type { ParamsOf, ResultOf } from "../../agent/plugin.ts";
import { callDeadlineMs, paramLimits } from "../client/deadlines.ts";
import { Value } from "@sinclair/typebox/value";
import { StepEvent } from "../../plugins/snapshot/schemas.ts";
import type { VmEntry } from "../client/vm-list.ts";
import { defineCommand, EXIT, secondsFlag, type Ctx } from "./command.ts";
import { formatDuration, statusWord } from "./format.ts";
import { paint } from "./io.ts";
import { stepRenderer } from "./progress.ts";
import { JSON_FORMATS, JSON_OUTPUT, jsonText, outputMode } from "./output.ts";

type Step = ResultOf<"sleep-prep">["steps"][number];

/** sleep-prep's drain: its cap and default, from SleepPrepParams. */
const DRAIN = paramLimits("sleep-prep", "drain_timeout_secs");

/** Wide enough for `checkpoint:NAME` of most names; longer ones push their line's columns right. */
const NAME_WIDTH = 18;

/**
 * Call sleep-prep or wake. Human output asks the agent to stream its steps and shows each as it
 * happens (progress.ts); steps the agent did not announce (an agent before step events, a repeated
 * sleep-prep) are printed from the answer after. --json asks for no events and prints the answer.
 */
async function withSteps<K extends "sleep-prep" | "wake">(ctx: Ctx, vm: VmEntry, type: K, params: ParamsOf<K>, json: boolean): Promise<ResultOf<K>> {
  const timeoutMs = callDeadlineMs(type, params, ctx.io.globals.timeoutMs);
  if (json) return (await ctx.call(vm, type as "sleep-prep", params as ParamsOf<"sleep-prep">, { timeoutMs })) as ResultOf<K>;
  const r = stepRenderer(ctx.io, NAME_WIDTH);
  try {
    const result = (await ctx.call(vm, type as "sleep-prep", { ...(params as ParamsOf<"sleep-prep">), stream: true }, {
      timeoutMs,
      onEvent: (event, data) => {
        if (event === "step" && Value.Check(StepEvent, data)) r.step({ name: data.name, status: data.status, ms: data.duration_ms, detail: data.detail });
      },
    })) as ResultOf<K>;
    for (const s of result.steps as Step[]) if (!r.ended.has(s.name)) r.step({ name: s.name, status: s.ok ? "ok" : "failed", ms: s.duration_ms, detail: s.detail });
    return result;
  } finally {
    r.close();
  }
}

export const sleepPrepCommand = defineCommand({
  name: "sleep-prep",
  summary: "Prepare a VM for a snapshot: pause schedulers, run checkpoints, sync, drop caches.",
  usage: "sleep-prep VM [--drain-timeout SECS] [-o json]",
  details: `
Prints each step as it ends (on a terminal, the steps running now on a last line with their
elapsed time), then whether the guest is ready. Exit code 0 when ready, 1 when not (a critical
checkpoint failed): do not snapshot then. The call waits for the drain deadline plus --timeout.
-o json (or --json) prints the agent's answer: { ready, state, steps: [{ name, ok, duration_ms, detail }], duration_ms }.`,
  flags: {
    "drain-timeout": { type: "number", arg: "SECS", description: `Seconds everything must fit in (the agent's default is ${DRAIN.default}).` },
    ...JSON_OUTPUT,
  },
  args: { min: 1, max: 1 },
  complete: { args: ["vm"], values: { output: JSON_FORMATS } },
  async run(ctx, { values, args }) {
    const vm = ctx.vm(args[0]!);
    const json = outputMode("sleep-prep", values, JSON_FORMATS) === "json";
    const drain = secondsFlag("sleep-prep", "drain-timeout", values["drain-timeout"], DRAIN.maximum);
    const params: ParamsOf<"sleep-prep"> = drain === undefined ? {} : { drain_timeout_secs: drain };
    // The drain the agent will use (this one, or its schema's default), plus --timeout.
    const r = await withSteps(ctx, vm, "sleep-prep", params, json);
    const c = ctx.io.color;
    if (json) ctx.io.out(jsonText(r));
    else ctx.io.out(`${vm.name}: ${statusWord(r.ready ? "ready" : "not ready", c)} for a snapshot in ${formatDuration(r.duration_ms)} (state ${r.state})\n`);
    return r.ready ? EXIT.OK : EXIT.NOT_OK;
  },
});

export const wakeCommand = defineCommand({
  name: "wake",
  summary: "Wake a VM after its snapshot was restored: set its clock, run restores, resume checks.",
  usage: "wake VM [--no-clock] [-o json]",
  details: `
Sends the host's current time so that the guest reports its clock skew and sets its clock (when it
may); --no-clock leaves the guest's clock alone. Each step is printed as it ends (on a terminal,
the running ones on a last line with their elapsed time). Exit code 1 when a restore command failed.
-o json (or --json) prints the agent's answer: { was_sleeping, clock_skew_ms, clock_set, steps, duration_ms }.`,
  flags: {
    clock: { type: "boolean", description: "Send the host's time (use --no-clock to leave the guest clock alone).", default: true },
    ...JSON_OUTPUT,
  },
  args: { min: 1, max: 1 },
  complete: { args: ["vm"], values: { output: JSON_FORMATS } },
  async run(ctx, { values, args }) {
    const vm = ctx.vm(args[0]!);
    const json = outputMode("wake", values, JSON_FORMATS) === "json";
    const params: ParamsOf<"wake"> = values.clock ? { wall_clock: new Date(ctx.io.now()).toISOString() } : {};
    const r = await withSteps(ctx, vm, "wake", params, json);
    const failed = r.steps.some((s) => !s.ok && s.name.startsWith("restore:"));
    if (json) ctx.io.out(jsonText(r));
    else {
      const c = ctx.io.color;
      const notes = [r.was_sleeping ? "was sleeping" : "was not sleeping: nothing to do"];
      if (r.clock_skew_ms !== null) notes.push(`clock skew ${r.clock_skew_ms >= 0 ? "+" : ""}${Math.round(r.clock_skew_ms)} ms${r.clock_set ? ", clock set" : ", clock not set"}`);
      ctx.io.out(`${vm.name}: ${failed ? paint(c, "red", "woke with failures") : statusWord("awake", c)} in ${formatDuration(r.duration_ms)} (${notes.join("; ")})\n`);
    }
    return failed ? EXIT.NOT_OK : EXIT.OK;
  },
});
