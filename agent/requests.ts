// Request declarations: the table each plugin's schemas.ts exports (schemas, description, deadline, events).

import type { Static, TSchema } from "@sinclair/typebox";

/**
 * One request as a plugin declares it, once, in its `schemas.ts`: what the agent checks, what the
 * host validates and documents, and how long a caller should wait. The agent's handler is paired
 * with it by `defineRequests`; the host reads the same entry (plugins/requests.ts gathers them).
 * @example
 * export const flushRequests = {
 *   "acme.flush": { params: FlushParams, result: FlushResult, description: "Flush the cache to disk." },
 * } satisfies RequestTable;
 */
export interface RequestDecl<P extends TSchema = TSchema, R extends TSchema = TSchema> {
  /** Checked (never coerced) before the handler runs. */
  params: P;
  /** Checked after the handler returns: a result that fails it is a bug (`E_INTERNAL`). */
  result: R;
  /** One sentence for listings and generated docs. */
  description: string;
  /**
   * The params field whose seconds bound the work (`drain_timeout_secs`, `timeout_secs`): a caller
   * waits that long plus its own slack. When the caller leaves it out, the field's schema `default`
   * applies (see `deadlineSecs`).
   */
  deadlineParam?: string;
  /** How long the work may take when no param bounds it (seconds), for callers choosing a deadline. */
  timeoutSecs?: number;
  /** Events a streaming call sends before its answer, by name, with the schema of their `data`. */
  events?: Record<string, TSchema>;
  /** While this runs the worker counts as busy (exec does). */
  work?: boolean;
}

/** A plugin's requests by wire name (`health`, `acme.flush`). */
export type RequestTable = Record<string, RequestDecl<any, any>>;

/**
 * The params and result types of a table, for declaration merging into `AgentRequests`:
 * @example
 * declare module "mvm-guest-agent/agent/plugin.ts" {
 *   interface AgentRequests extends RequestTypes<typeof flushRequests> {}
 * }
 */
export type RequestTypes<T extends RequestTable> = {
  [K in keyof T & string]: { params: Static<T[K]["params"]>; result: Static<T[K]["result"]> };
};

/**
 * Seconds one call's work may take by its own declaration: the `deadlineParam` value (capped by the
 * field's schema `maximum`), else that field's schema `default`, else `timeoutSecs`; undefined when
 * the request says nothing (an answer should come at once).
 * @example deadlineSecs(snapshotRequests["sleep-prep"], {}) // 30 (SleepPrepParams' default)
 */
export function deadlineSecs(decl: RequestDecl, params?: unknown): number | undefined {
  const key = decl.deadlineParam;
  if (key !== undefined) {
    const field = (decl.params as { properties?: Record<string, { default?: unknown; maximum?: unknown }> }).properties?.[key];
    const given = params !== null && typeof params === "object" ? (params as Record<string, unknown>)[key] : undefined;
    if (typeof given === "number" && Number.isFinite(given) && given > 0)
      return typeof field?.maximum === "number" ? Math.min(given, field.maximum) : given;
    if (typeof field?.default === "number") return field.default;
  }
  return decl.timeoutSecs;
}
