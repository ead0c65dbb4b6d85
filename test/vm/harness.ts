// The VM suite's bookkeeping: named steps with pass/fail/not-checked, bounded waits, the console tail on failure.

import type { Vm } from "../../scripts/vm/qemu.ts";

export type StepStatus = "pass" | "fail" | "not checked";

export interface StepRecord {
  name: string;
  status: StepStatus;
  detail: string;
  secs: number;
}

/** Thrown by a step that cannot be checked here (a capability missing from the build); never a pass. */
export class NotChecked extends Error {}

export class Harness {
  readonly steps: StepRecord[] = [];
  vm: Vm | null = null;

  constructor(private readonly say: (line: string) => void) {}

  /** Run one step; on failure print the error and the tail of the guest console. Returns true on pass. */
  async step(name: string, fn: () => Promise<string | void>): Promise<boolean> {
    const t0 = performance.now();
    this.say(`\n== ${name}`);
    try {
      const detail = (await fn()) ?? "";
      this.record(name, "pass", detail, t0);
      return true;
    } catch (e) {
      const err = e as Error;
      if (err instanceof NotChecked) {
        this.record(name, "not checked", err.message, t0);
        return false;
      }
      this.record(name, "fail", err.message, t0);
      this.say(`   ${err.stack ?? err.message}`);
      if (this.vm) {
        this.say(`   ${this.vm.exited ?? "QEMU is running"}; ${this.vm.qemuLog()}`);
        this.say(`   --- guest console (last 40 lines): ${this.vm.console}\n${this.vm.consoleTail(40)}\n   --- end of console`);
      }
      return false;
    }
  }

  /** Record a step that was not run (an earlier one failed). */
  skip(name: string, why: string): void {
    this.steps.push({ name, status: "not checked", detail: why, secs: 0 });
    this.say(`\n== ${name}\n   NOT CHECKED: ${why}`);
  }

  private record(name: string, status: StepStatus, detail: string, t0: number): void {
    const secs = (performance.now() - t0) / 1000;
    this.steps.push({ name, status, detail, secs });
    const mark = status === "pass" ? "ok" : status === "fail" ? "FAILED" : "NOT CHECKED";
    this.say(`   ${mark} (${secs.toFixed(1)} s)${detail ? `: ${detail}` : ""}`);
  }

  /**
   * Poll `probe` until it returns a truthy value; throws after `timeoutMs` with the last error seen,
   * or at once when QEMU has exited.
   */
  async until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, intervalMs = 250): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    let last = "";
    for (;;) {
      if (this.vm?.exited) throw new Error(`${what}: ${this.vm.exited}`);
      try {
        const v = await probe();
        if (v) return v;
      } catch (e) {
        last = (e as Error).message;
      }
      if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last error: ${last})` : ""}`);
      await Bun.sleep(intervalMs);
    }
  }

  summary(): { failed: number; unchecked: number; text: string } {
    const failed = this.steps.filter((s) => s.status === "fail").length;
    const unchecked = this.steps.filter((s) => s.status === "not checked").length;
    const rows = this.steps.map((s) => `| ${s.name} | ${s.status === "pass" ? "pass" : s.status.toUpperCase()} | ${s.secs.toFixed(1)} s | ${s.detail.replace(/\|/g, "\\|").replace(/\n/g, " ").slice(0, 160)} |`);
    return { failed, unchecked, text: ["| step | result | time | detail |", "|---|---|---|---|", ...rows].join("\n") };
  }
}

export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}
