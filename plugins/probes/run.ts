// One probe run: the command through the shared runner, its stdout turned into a value, and the console text.

import type { CommandResult, CommandSpec } from "../../agent/command.ts";
import { failureDetail, outputText } from "../../agent/capture.ts";
import { parseOutput } from "./parse.ts";
import type { ProbeFile } from "./schemas.ts";

/** Bytes of stdout (and stderr) a probe keeps; the rest is counted, not kept. */
export const PROBE_OUTPUT_CAP = 4096;

/** What one finished run leaves behind (the wire result adds name, unit, checked_at, stale). */
export interface ProbeRun {
  ok: boolean;
  value: unknown;
  output: string;
  detail: string | null;
  exit_code: number | null;
  timed_out: boolean;
  duration_ms: number;
  /** Wall-clock ms when the run finished. */
  at: number;
  /** Monotonic ms when the run finished (for `stale`). */
  mono: number;
}

/** Outcome of `runProbe`: a run to record, or nothing because the run was cancelled (stop, reload, snapshot). */
export type RunOutcome = { kind: "run"; run: ProbeRun } | { kind: "cancelled" };

/**
 * Run one probe and build its result. Never throws for the command's sake.
 * @example const out = await runProbe(ctx.runCommand, probe, signal, () => [ctx.clock.now(), ctx.clock.monotonic()]);
 */
export async function runProbe(
  run: (spec: CommandSpec) => Promise<CommandResult>,
  probe: ProbeFile,
  signal: AbortSignal,
  now: () => [wall: number, mono: number],
): Promise<RunOutcome> {
  const timeoutMs = Math.round(probe.timeout_secs * 1000);
  const r = await run({ command: probe.command, timeoutMs, maxOutputBytes: PROBE_OUTPUT_CAP, signal });
  if (r.aborted) return { kind: "cancelled" };
  const [at, mono] = now();
  return { kind: "run", run: { ...interpret(probe, r, timeoutMs), duration_ms: r.duration_ms, at, mono } };
}

/** The ok/value/detail of a finished command, per the probe's output_format. */
function interpret(
  probe: Pick<ProbeFile, "output_format">,
  r: CommandResult,
  timeoutMs: number,
): Pick<ProbeRun, "ok" | "value" | "output" | "detail" | "exit_code" | "timed_out"> {
  const output = outputText(r.stdout);
  const base = { output, exit_code: r.exit_code, timed_out: r.timed_out };
  const failure = failureDetail(r, timeoutMs);
  if (probe.output_format === "exit_code") {
    // The exit code is the reading: any exit is a value; only a run that did not exit is a failure.
    const exited = r.exit_code !== null && !r.timed_out;
    return { ...base, ok: exited, value: exited ? r.exit_code : null, detail: exited ? null : failure };
  }
  if (failure) return { ...base, ok: false, value: null, detail: failure };
  if (r.stdout_truncated) {
    const note = `output is ${r.stdout_bytes} bytes, over the ${PROBE_OUTPUT_CAP}-byte cap`;
    if (probe.output_format === "text") return { ...base, ok: true, value: output, detail: `${note}; value and output cut` };
    return { ...base, ok: false, value: null, detail: `${note}; a probe reports one small value` };
  }
  const p = parseOutput(probe.output_format, output);
  return p.ok ? { ...base, ok: true, value: p.value, detail: null } : { ...base, ok: false, value: null, detail: p.detail };
}

/** `probe disk-usage = 42 percent` or `probe disk-usage failed: exit 1: df: no such file`. */
export function consoleLine(name: string, unit: string | undefined, run: ProbeRun): string {
  if (!run.ok) return `probe ${name} failed: ${run.detail ?? "unknown"}`;
  let text = typeof run.value === "string" ? (run.value.split("\n")[0] ?? "") : JSON.stringify(run.value);
  if (text.length > 200) text = text.slice(0, 200) + "…";
  if (typeof run.value === "string" && (text === "" || text !== run.value)) text = JSON.stringify(text);
  return `probe ${name} = ${text}${unit ? ` ${unit}` : ""}${run.detail ? ` (${run.detail})` : ""}`;
}
