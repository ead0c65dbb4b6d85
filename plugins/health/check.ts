// One health check: run an integration's health_cmd through the shared runner and judge the result.

import { rfc3339 } from "../../agent/clock.ts";
import type { CommandResult, CommandSpec } from "../../agent/command.ts";
import { failureDetail, outputText, trimUtf8Start } from "../../agent/capture.ts";
import type { CheckResult } from "./schemas.ts";
import type { IntegrationSpec } from "./service.ts";

/** Bytes of output kept per check (the tail). */
export const OUTPUT_BYTES = 4096;

/** What one finished check says: the wire `last` record and the one-line reason it failed. */
export interface CheckOutcome {
  result: CheckResult;
  /** "" when ok; else `exit 1: connection refused`, `timed out after 5s`, `failed to start: ...`. */
  detail: string;
  /** The check was cancelled (pause deadline, reload, stop): it says nothing about the service. */
  cancelled: boolean;
}

/** The runner spec for an integration's health check. */
export function checkCommand(spec: IntegrationSpec, signal: AbortSignal): CommandSpec {
  return {
    command: spec.health_cmd,
    env: spec.env,
    cwd: spec.cwd,
    timeoutMs: spec.health_timeout_secs * 1000,
    maxOutputBytes: OUTPUT_BYTES,
    keep: "tail",
    signal,
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The last `max` bytes of stdout then stderr (each already a tail), as text. */
function combinedOutput(r: Pick<CommandResult, "stdout" | "stderr">, max = OUTPUT_BYTES): string {
  const parts = [outputText(r.stdout), outputText(r.stderr)].filter((s) => s !== "");
  const text = parts.join("\n");
  const bytes = enc.encode(text);
  if (bytes.length <= max) return text;
  return dec.decode(trimUtf8Start(bytes.subarray(bytes.length - max))).trim();
}

/** Judge a runner result. `ok` only for exit 0 within the timeout. */
export function judge(r: CommandResult, timeoutMs: number): CheckOutcome {
  const ok = r.exit_code === 0 && !r.timed_out && !r.aborted && !r.spawn_error && !r.signal;
  return {
    result: {
      ok,
      exit_code: r.exit_code,
      signal: r.signal,
      timed_out: r.timed_out,
      duration_ms: Math.max(0, Math.round(r.duration_ms)),
      output: combinedOutput(r),
      checked_at: rfc3339(r.started_at + r.duration_ms),
    },
    detail: ok ? "" : failureDetail(r, timeoutMs),
    cancelled: r.aborted,
  };
}

/** `exit 0, 12 ms` for console lines about a passed check. */
export function passText(r: CheckResult): string {
  return `exit ${r.exit_code ?? 0}, ${r.duration_ms} ms`;
}
