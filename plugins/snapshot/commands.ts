// The steps of sleep-prep and wake: integrations' checkpoint and restore commands run concurrently, timed steps, their lines.

import type { CommandResult, CommandSpec } from "../../agent/command.ts";
import { failureDetail, firstLine, outputText } from "../../agent/capture.ts";
import type { PluginContext } from "../../agent/plugin.ts";
import type { Step, StepEvent } from "./schemas.ts";
import type { IntegrationSpec } from "./service.ts";

export type CommandKind = "checkpoint" | "restore";

export interface CommandStep extends Step {
  integration: IntegrationSpec;
  /** Not run at all (no time left); counted as a failure. */
  skipped: boolean;
}

/** Where a streaming call's step events go (`req.emit("step", e)`); a no-op when the client did not ask. */
export type StepSink = (e: StepEvent) => void;

/** Does nothing: a call that did not ask for streaming, the watchdog's resume. */
export const NO_STEPS: StepSink = () => {};

/** Announce a step as it starts. */
export function stepStarted(sink: StepSink, name: string): void {
  sink({ name, status: "running", duration_ms: 0, detail: "" });
}

/** Announce a step as it ends, as the answer will list it. */
export function stepEnded(sink: StepSink, s: Step): void {
  sink({ name: s.name, status: s.ok ? "ok" : "failed", duration_ms: s.duration_ms, detail: s.detail });
}

/** A step that was over as soon as it began (the clock, a listing that failed): both events at once. */
export function announce(sink: StepSink, s: Step): void {
  stepStarted(sink, s.name);
  stepEnded(sink, s);
}

/** `step` events for a client that asked (`stream: true`); nothing otherwise (the mvm dialect never asks). */
export function stepSink(stream: boolean | undefined, emit: (event: string, data: unknown) => void): StepSink {
  return stream === true ? (e) => emit("step", e) : NO_STEPS;
}

export interface RunStepsOptions {
  run(spec: CommandSpec): Promise<CommandResult>;
  /** Milliseconds left before the drain deadline (checkpoints); absent for restores. */
  budgetMs?: () => number;
  /** Aborted when the agent stops: the runner kills the commands' process groups. */
  signal?: AbortSignal;
  /**
   * Each step as it starts, and as it ends with its detail (`mark` may still change it: a critical
   * checkpoint's "(critical: ...)" note is added before it is announced).
   */
  onStep?: StepSink;
  /** Adjust a finished step before it is announced and returned. */
  mark?: (s: CommandStep) => void;
}

/** Output kept per stream: only the first line goes into a step's detail. */
const KEEP_BYTES = 4096;

/** `checkpoint:my-db` */
function stepName(kind: CommandKind, name: string): string {
  return `${kind}:${name}`;
}

/** Integrations that have a command of this kind, in list order. */
function withCommand(list: readonly IntegrationSpec[], kind: CommandKind): IntegrationSpec[] {
  return list.filter((i) => (kind === "checkpoint" ? i.checkpoint_cmd : i.restore_cmd)?.trim());
}

/**
 * Run every integration's command of `kind` at once, each under its `checkpoint_timeout_secs`
 * (and, for checkpoints, the time left before the drain deadline). Checkpoints kill what they
 * leave running when they exit (the guest must be quiet once sleep-prep answers); restores do not
 * (a restore may start a daemon). Steps come back in list order.
 */
export async function runCommandSteps(kind: CommandKind, list: readonly IntegrationSpec[], o: RunStepsOptions): Promise<CommandStep[]> {
  return Promise.all(
    withCommand(list, kind).map(async (integration): Promise<CommandStep> => {
      const name = stepName(kind, integration.name);
      const sink = o.onStep ?? NO_STEPS;
      const done = (s: CommandStep): CommandStep => {
        o.mark?.(s);
        stepEnded(sink, s);
        return s;
      };
      stepStarted(sink, name);
      const own = integration.checkpoint_timeout_secs * 1000;
      const left = o.budgetMs?.();
      if (left !== undefined && left <= 0)
        return done({ name, ok: false, duration_ms: 0, detail: "not run: the drain deadline had passed", integration, skipped: true });
      const byDeadline = left !== undefined && left < own;
      const timeoutMs = byDeadline ? Math.ceil(left) : own;
      const r = await o.run({
        command: kind === "checkpoint" ? integration.checkpoint_cmd : integration.restore_cmd,
        env: integration.env,
        cwd: integration.cwd,
        timeoutMs,
        killGroupOnExit: kind === "checkpoint",
        maxOutputBytes: KEEP_BYTES,
        signal: o.signal,
      });
      const fail = failureDetail(r, timeoutMs);
      const detail = fail
        ? r.timed_out && byDeadline
          ? `${fail} (the drain deadline)`
          : fail
        : firstLine(outputText(r.stdout)) || "exit 0";
      return done({ name, ok: fail === "", duration_ms: r.duration_ms, detail, integration, skipped: false });
    }),
  );
}

/** The wire form of a step (drops the bookkeeping fields). */
export function wireStep(s: Step): Step {
  return { name: s.name, ok: s.ok, duration_ms: s.duration_ms, detail: s.detail };
}

/** Milliseconds to two decimals, as steps report them. */
export const round = (ms: number) => Math.round(ms * 100) / 100;

/** Time one step of sleep-prep or wake, announced to `sink` as it starts and ends; a throw becomes a failed step with `onError`'s detail. */
export async function timedStep(c: PluginContext, name: string, fn: () => Promise<string>, onError: (e: unknown) => string, sink: StepSink = NO_STEPS): Promise<Step> {
  stepStarted(sink, name);
  const t0 = c.clock.monotonic();
  let ok = true;
  let detail: string;
  try {
    detail = await fn();
  } catch (e) {
    ok = false;
    detail = onError(e);
  }
  const step = { name, ok, duration_ms: round(c.clock.monotonic() - t0), detail };
  stepEnded(sink, step);
  return step;
}

/** One console line per step: info when ok, warn when it failed, error when a critical one failed. */
export function logStep(c: PluginContext, op: "sleep-prep" | "wake", s: Step, critical = false): void {
  const line = `${op}: ${s.name} ${s.ok ? "ok" : critical ? "FAILED" : "failed"} (${s.duration_ms} ms): ${s.detail}`;
  // JSON logs: the request, the step, the integration a checkpoint or restore belongs to, the duration.
  const integration = /^(?:checkpoint|restore):(.+)$/.exec(s.name)?.[1];
  const fields = { type: op, step: s.name, ...(integration ? { integration } : {}), duration_ms: s.duration_ms };
  if (s.ok) c.log.info(line, fields);
  else if (critical) c.log.error(line, fields);
  else c.log.warn(line, fields);
}
