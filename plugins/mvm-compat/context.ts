// What every mvm verb handler gets (the plugin context, the cap, shared records) and the Error answer.

import { AgentError, describeError } from "../../agent/errors.ts";
import type { AgentServices, PluginContext } from "../../agent/plugin.ts";
import type { MvmError } from "./schemas.ts";

/** One integration as the health plugin's `integrations` service lists it. */
export type IntegrationSpec = ReturnType<AgentServices["integrations"]["list"]>[number];

export interface VerbDeps {
  ctx: PluginContext;
  /** Cap of one answer in this dialect (bytes of JSON). */
  maxFrameBytes: number;
  /** Per-connection scratch (hello state). */
  conn: Map<string, unknown>;
  /** Aborted when the client goes away: passed to exec and fs-diff so their work stops with it. */
  signal: AbortSignal;
  /** Aborted when the plugin stops (kills checkpoint commands still running). */
  stopping: AbortSignal;
  /** Epoch ms of the last successful checkpoint per integration, by CheckpointIntegrations. */
  checkpoints: Map<string, number>;
}

/** `{"Error":{"message":...}}` */
export function mvmError(message: string): MvmError {
  return { Error: { message } };
}

/** The wire code of a thrown value, if it is an AgentError. */
export function codeOf(e: unknown): string | undefined {
  return e instanceof AgentError ? e.code : undefined;
}

/**
 * The `Error` answer for a native request that failed: a missing plugin is named as such, an
 * AgentError keeps its message (and code), anything else is generic (the console gets the detail).
 */
export function failedCall(d: VerbDeps, verb: string, request: string, e: unknown): MvmError {
  if (codeOf(e) === "E_UNKNOWN_REQUEST") return mvmError(`${verb} is not available: this agent does not serve "${request}" (its plugin is not loaded)`);
  if (e instanceof AgentError) return mvmError(`${verb} failed: ${e.message} (${e.code})`);
  d.ctx.log.error(`${verb}: ${request} failed: ${e instanceof Error ? (e.stack ?? e.message) : describeError(e)}`, { type: `mvm:${verb}` });
  return mvmError(`${verb} failed: internal error`);
}

/** The integrations loaded now (the health plugin's service); null without it, or when listing fails (logged). */
export function integrationSpecs(d: VerbDeps): IntegrationSpec[] | null {
  const service = d.ctx.service("integrations");
  if (!service) return null;
  try {
    return service.list();
  } catch (e) {
    d.ctx.log.error(`listing integrations failed: ${describeError(e)}`);
    return null;
  }
}
