// `mvmctl wait VM --for healthy|idle|reachable --timeout SECS`: poll with backoff until the condition holds or the whole wait ends.

import { FlagError, unknownCommand } from "../../agent/argv.ts";
import type { Clock } from "../../agent/clock.ts";
import type { VmEntry } from "../client/vm-list.ts";
import { ClientError } from "../client/errors.ts";
import { CliFailure, defineCommand, EXIT, failure, type Ctx } from "./command.ts";
import { formatDuration, short } from "./format.ts";
import { cut } from "./io.ts";
import { backoff, clockOf, sleepOn, unlessAborted } from "./pace.ts";

export const CONDITIONS = ["healthy", "idle", "reachable"] as const;
export type Condition = (typeof CONDITIONS)[number];

/** Default and longest whole wait, seconds. */
export const DEFAULT_WAIT_SECS = 60;
export const MAX_WAIT_SECS = 86_400;
/** Less than this left: no further look. */
const LAST_LOOK_MS = 5;
/** Exit code when Ctrl-C ended the wait (128 + SIGINT). */
const INTERRUPTED = 130;

/** One look at the VM: met, or what was seen instead (`not ready (1 starting)`). */
type Look = { met: true; seen: string } | { met: false; seen: string };

/** Ask once whether `cond` holds, the call bounded by `callMs`. Errors the wait can outlive say so in `seen`; one it cannot (no such plugin) throws. */
async function look(ctx: Ctx, vm: VmEntry, cond: Condition, callMs: number): Promise<Look> {
  try {
    if (cond === "reachable") {
      await ctx.call(vm, "ping", {}, { timeoutMs: callMs });
      return { met: true, seen: "reachable" };
    }
    if (cond === "healthy") {
      const h = await ctx.call(vm, "health", {}, { timeoutMs: callMs });
      const counts = new Map<string, number>();
      for (const i of h.integrations) counts.set(i.status, (counts.get(i.status) ?? 0) + 1);
      const parts = [...counts].map(([k, n]) => `${n} ${short(k, 20)}`).join(", ");
      return h.ready ? { met: true, seen: `healthy${parts ? ` (${parts})` : ""}` } : { met: false, seen: `not ready (${parts})` };
    }
    const w = await ctx.call(vm, "worker-status", {}, { timeoutMs: callMs });
    return w.status === "idle" ? { met: true, seen: "idle" } : { met: false, seen: `busy (load ${w.load1 ?? "unknown"})` };
  } catch (e) {
    // Any answer from the agent, even an error, is an agent that answers: reachable. (An agent without
    // ping made this exit 4 saying "the agent has no worker plugin".)
    if (cond === "reachable" && e instanceof ClientError && e.fromAgent) return { met: true, seen: `reachable (ping: ${e.code})` };
    // A request the agent does not serve will never be met: waiting longer cannot help.
    if (e instanceof ClientError && e.fromAgent && e.code === "E_UNKNOWN_REQUEST") {
      const plugin = cond === "healthy" ? "health" : "worker";
      throw new CliFailure(EXIT.AGENT_ERROR, `${vm.name}: cannot wait for ${cond}: the agent has no ${plugin} plugin (${failure(e).message})`);
    }
    return { met: false, seen: failure(e).message };
  }
}

export interface WaitOptions {
  cond: Condition;
  timeoutMs: number;
  /** The per-call deadline (the global --timeout); each call also ends by the whole wait's end. */
  callMs: number;
  clock: Clock;
  signal: AbortSignal;
  /** Each look that was not met (a live status line). */
  onLook?: (seen: string, elapsedMs: number) => void;
}

/**
 * Poll until `cond` holds or `timeoutMs` passed on `clock`: a look now, then after 100 ms, doubling up
 * to 2 s between looks (never past the end). No call outlives the wait: each is bounded by what is
 * left. Resolves with the outcome; the clock's timers are released in every case.
 * @example const r = await waitUntil(ctx, vm, { cond: "healthy", timeoutMs: 60_000, callMs: 5000, clock, signal });
 */
export async function waitUntil(ctx: Ctx, vm: VmEntry, o: WaitOptions): Promise<{ outcome: "met" | "timeout" | "interrupted"; seen: string; elapsedMs: number }> {
  const t0 = o.clock.monotonic();
  const end = t0 + o.timeoutMs;
  let seen = "not asked yet";
  for (let attempt = 0; ; attempt++) {
    const left = end - o.clock.monotonic();
    const r = await unlessAborted(look(ctx, vm, o.cond, Math.max(1, Math.ceil(Math.min(o.callMs, left)))), o.signal);
    const elapsedMs = o.clock.monotonic() - t0;
    if (r.aborted) return { outcome: "interrupted", seen, elapsedMs };
    seen = r.value.seen;
    if (r.value.met) return { outcome: "met", seen, elapsedMs };
    o.onLook?.(seen, elapsedMs);
    const rest = end - o.clock.monotonic();
    if (rest <= 0) return { outcome: "timeout", seen, elapsedMs };
    if (!(await sleepOn(o.clock, Math.min(backoff(attempt), rest), o.signal))) return { outcome: "interrupted", seen, elapsedMs: o.clock.monotonic() - t0 };
    // No look once the wait is (all but) over: its call would have no time left. Timers may fire a
    // little early against the monotonic clock, hence the few milliseconds.
    if (end - o.clock.monotonic() < LAST_LOOK_MS) return { outcome: "timeout", seen, elapsedMs: o.clock.monotonic() - t0 };
  }
}

export const waitCommand = defineCommand({
  name: "wait",
  summary: "Wait until a VM is healthy, idle or reachable (for scripts), up to --timeout seconds in all.",
  usage: "wait VM --for healthy|idle|reachable [--timeout SECS]",
  details: `
Asks at once, then again after 100 ms, doubling up to every 2 s, until the condition holds or
the wait is over:
  healthy    the health plugin answers ready (every integration healthy or unchecked)
  idle       the worker plugin answers idle
  reachable  the agent answers ping
An unreachable agent, a call past its deadline or a busy answer is "not yet", not a failure.
Here --timeout is the whole wait (default ${DEFAULT_WAIT_SECS} s, at most ${MAX_WAIT_SECS}); the deadline of each call is the
global --timeout given before the command (mvmctl --timeout 2 wait web1 --for healthy --timeout 120),
and no call outlives the wait.
Exit codes: 0 the condition holds (one line on stdout: "web1: healthy after 1.2 s"); 1 it did not
within --timeout (the last thing seen on stderr); 2 usage, unknown VM; 4 the agent has no plugin for
it (E_UNKNOWN_REQUEST: it can never hold); 130 Ctrl-C.
Example: mvmctl wait web1 --for healthy --timeout 120 && curl http://web1/`,
  flags: {
    for: { type: "string", arg: "COND", description: "What to wait for: healthy, idle or reachable." },
    timeout: { type: "number", arg: "SECS", description: `The whole wait, in seconds (default ${DEFAULT_WAIT_SECS}); the global --timeout before the command is each call's deadline.` },
  },
  args: { min: 1, max: 1 },
  complete: { args: ["vm"], values: { for: CONDITIONS } },
  async run(ctx, { values, args }) {
    const cond = values.for;
    if (cond === undefined) throw new FlagError("wait: --for is required: healthy, idle or reachable");
    if (!(CONDITIONS as readonly string[]).includes(cond)) throw new FlagError(`wait: --for: ${unknownCommand(cond, CONDITIONS, "condition").message}`);
    const secs = values.timeout ?? DEFAULT_WAIT_SECS;
    if (!(secs > 0 && secs <= MAX_WAIT_SECS)) throw new FlagError(`wait: --timeout expects seconds above 0 and at most ${MAX_WAIT_SECS}, got ${secs}`);
    const vm = ctx.vm(args[0]!);
    const io = ctx.io;
    let shown = false;
    const r = await waitUntil(ctx, vm, {
      cond: cond as Condition,
      timeoutMs: secs * 1000,
      callMs: io.globals.timeoutMs,
      clock: clockOf(io),
      signal: io.signal,
      // On a terminal, one line says what the wait sees now; it is erased at the end.
      onLook: io.live
        ? (seen, ms) => {
            io.out(`\r\x1b[2K${cut(`${vm.name}: waiting for ${cond}: ${seen} (${formatDuration(ms)})`, io.width === undefined ? undefined : io.width - 1)}`);
            shown = true;
          }
        : undefined,
    });
    if (shown) io.out("\r\x1b[2K");
    if (r.outcome === "met") {
      io.out(`${vm.name}: ${r.seen} after ${formatDuration(r.elapsedMs)}\n`);
      return EXIT.OK;
    }
    if (r.outcome === "interrupted") throw new CliFailure(INTERRUPTED, `${vm.name}: interrupted while waiting for ${cond} (last seen: ${r.seen})`);
    throw new CliFailure(EXIT.NOT_OK, `${vm.name}: not ${cond} after ${formatDuration(secs * 1000)}; last seen: ${r.seen}`);
  },
});
