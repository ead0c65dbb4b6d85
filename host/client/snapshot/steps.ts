// The steps of a snapshot or restore: each one timed, streamed to a listener as it starts and ends, and kept for the report.

import { ClientError } from "../errors.ts";
import { printable } from "../printable.ts";
import type { VmmDriver } from "../vmm/driver.ts";
import { VmmError } from "../vmm/errors.ts";
import type { AgentCall } from "../checked.ts";

/** What a snapshot and a restore both need: the VM, its VMM and agent, the directory, clocks and deadlines. */
export interface LoopRequest {
  vm: string;
  vmm: VmmDriver;
  agent: AgentCall;
  /** Absolute directory (checked by the caller: checkDirText, confineDir). */
  dir: string;
  /** Deadline of one ordinary agent or VMM call. */
  callTimeoutMs: number;
  /** How long wake is retried (default 60 s). */
  wakeTimeoutMs?: number;
  /** The host's wall clock: wake's wall_clock, the manifest's time. */
  now(): number;
  /** Each step as it starts and ends. */
  onStep?(e: StepEvent): void;
  /** Wait between attempts (tests pass one that does not sleep). */
  sleep?: (ms: number) => Promise<void>;
}

/** `check`, `sleep-prep`, `pause`, `write`, `resume`, `stop`, `wake`, `manifest`, `recover`, `load`, `health`. */
export type StepName = string;

/** One step as it is streamed: `running` when it starts, then `ok` or `failed` with its time and detail. */
export interface StepEvent {
  step: StepName;
  status: "running" | "ok" | "failed";
  /** Wall time the step took, in ms (0 while running). */
  ms: number;
  /** One line: what was done (`QMP stop: status paused`), or why it failed. Control characters escaped. */
  detail: string;
}

/** A finished step, as the report lists it. */
export interface StepRecord {
  step: StepName;
  ok: boolean;
  ms: number;
  detail: string;
}

/** A step's failure: the step's name and the error it threw. */
export class StepFailure extends Error {
  constructor(
    readonly step: StepName,
    override readonly cause: unknown,
  ) {
    super(`step ${step}: ${errorText(cause)}`);
  }
}

/**
 * A snapshot or restore that failed: `step` is where, `cause` the error (its code decides the exit
 * code), `steps` everything that ran, recovery included. The message says what state things are in.
 */
export class LoopError extends Error {
  constructor(
    readonly step: string,
    override readonly cause: unknown,
    message: string,
    readonly steps: StepRecord[],
  ) {
    super(message);
    this.name = "LoopError";
  }
}

/** The VMs (by their VMM's address) a snapshot or restore of this process is working on. */
const claimed = new Set<string>();

/**
 * Run `loop` with the request's VM claimed for it in this process, or reject with LoopError at step
 * `check` (an E_BUSY cause) when another loop holds it: two loops on one VM interleave (the second's
 * sleep-prep is refused, and its recovery wakes the guest between the first one's sleep-prep and
 * pause). The claim ends with the loop, whatever way. The key is the VMM's socket (`vmm.label`).
 * @example return withVmClaimed(req, "snapshot", () => snapshotLoop(req));
 */
export async function withVmClaimed<T>(req: LoopRequest, what: "snapshot" | "restore", loop: () => Promise<T>): Promise<T> {
  const key = req.vmm.label;
  if (claimed.has(key)) {
    const cause = new ClientError("E_BUSY", `another snapshot or restore of ${req.vm} (${key}) is running in this process`);
    throw new LoopError("check", cause, `${what} of ${req.vm} refused at step check: ${errorText(cause)}; nothing was done`, []);
  }
  claimed.add(key);
  try {
    return await loop();
  } finally {
    claimed.delete(key);
  }
}

/** An error as one printable line, with its code when it has one (`... [E_VMM_TIMEOUT]`). */
export function errorText(e: unknown): string {
  if (e instanceof VmmError || e instanceof ClientError) return printable(`${e.message} [${e.code}]`);
  return printable(e instanceof Error ? e.message : String(e));
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/**
 * Runs steps in order, timing each and telling `onStep` as it starts and ends.
 * @example const steps = new Steps((e) => print(e)); const info = await steps.run("check", async () => [await vmm.info(), "qemu 7.2.22"]);
 */
export class Steps {
  readonly done: StepRecord[] = [];

  constructor(private readonly onStep?: (e: StepEvent) => void) {}

  /** Run `fn` as step `step`; it resolves with its value and a detail line. Throws StepFailure. */
  async run<T>(step: StepName, fn: () => Promise<[T, string]>): Promise<T> {
    this.onStep?.({ step, status: "running", ms: 0, detail: "" });
    const t0 = performance.now();
    let out: [T, string];
    try {
      out = await fn();
    } catch (e) {
      this.record(step, false, performance.now() - t0, errorText(e));
      throw e instanceof StepFailure ? e : new StepFailure(step, e);
    }
    this.record(step, true, performance.now() - t0, printable(out[1]));
    return out[0];
  }

  /** Run a step whose failure is reported but not thrown (recovery); resolves with its detail or null. */
  async attempt(step: StepName, fn: () => Promise<string>): Promise<string | null> {
    try {
      return await this.run(step, async () => {
        const detail = await fn();
        return [detail, detail];
      });
    } catch {
      return null;
    }
  }

  /** Record a step that did not run its own code (a failed check found by another step). */
  record(step: StepName, ok: boolean, ms: number, detail: string): void {
    const r = { step, ok, ms: round(ms), detail };
    this.done.push(r);
    this.onStep?.({ step, status: ok ? "ok" : "failed", ms: r.ms, detail });
  }
}
