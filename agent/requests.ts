// Requests: the declaration table each plugin's schemas.ts exports, the AgentRequests registry, handlers and typed calls.

import type { Static, TSchema } from "@sinclair/typebox";
import type { Logger } from "./log.ts";
import type { PluginContext } from "./plugin.ts";
import type { coreRequests } from "./wire.ts";

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
 * declare module "mvm-guest-agent/plugin" {
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

/** What a request handler gets besides its params. */
export interface RequestContext {
  /** The request's wire name. */
  readonly type: string;
  /** The client's id, if it sent one. */
  readonly id: string | number | undefined;
  /**
   * Send an event frame before the final answer (streaming requests). Events over the frame cap
   * throw; split data to fit `maxFrameBytes`.
   */
  emit(event: string, data: unknown): void;
  /**
   * Resolves once the client's connection can take more output: at once, unless the client has
   * left more than MAX_UNSENT_BYTES unread (agent/session.ts). A streaming handler awaits it between
   * events, so that a client that does not read stops the producer instead of growing the agent.
   * @example for await (const chunk of source) { ctx.emit("data", chunk); await ctx.writable(); }
   */
  writable(): Promise<void>;
  /** Aborted when the client disconnects or the agent is shutting down. */
  readonly signal: AbortSignal;
  readonly maxFrameBytes: number;
  /** The plugin's own logger (`ctx.plugin.log`). */
  readonly log: Logger;
  /**
   * The context of the plugin that serves this request: its clock, config, runCommand, services,
   * events and `call`. Handlers reach everything through it; nothing needs saving from `start`.
   * The core runs a handler only while its plugin runs (else it answers E_UNAVAILABLE).
   * @example handle: async (p, req) => (await req.plugin.runCommand({ command: "sync", timeoutMs: 5000 })).exit_code === 0
   */
  readonly plugin: PluginContext;
}

/**
 * One request a plugin serves: its declaration (see `RequestDecl`) and its handler. Params are
 * checked (never coerced) before `handle` runs, results after. Bundled plugins pair the table in
 * their schemas.ts with handlers through `defineRequests`; `defineRequest` serves one inline.
 * @example
 * const Params = Type.Object({ name: Type.String() }, { additionalProperties: false });
 * const Result = Type.Object({ flushed: Type.Boolean() }, { additionalProperties: false });
 * const flush = defineRequest({ params: Params, result: Result, handle: async ({ name }) => ({ flushed: true }) });
 */
export interface RequestSpec<P extends TSchema = TSchema, R extends TSchema = TSchema> extends Omit<RequestDecl<P, R>, "description"> {
  /** One sentence for `hello` listings and generated docs. */
  description?: string;
  handle(params: Static<P>, ctx: RequestContext): Static<R> | Promise<Static<R>>;
}

/** Typed identity helper so handlers infer their param and result types. */
export function defineRequest<P extends TSchema, R extends TSchema>(spec: RequestSpec<P, R>): RequestSpec<P, R> {
  return spec;
}

/** The handler of one declared request, typed from its schemas. */
export type RequestHandler<D extends RequestDecl<any, any>> = (
  params: Static<D["params"]>,
  ctx: RequestContext,
) => Static<D["result"]> | Promise<Static<D["result"]>>;

/**
 * Pair a declaration table (from schemas.ts) with one handler per entry: the schemas and the
 * description are the table's own, never restated. A missing handler fails to compile.
 * @example requests: defineRequests(flushRequests, { "acme.flush": async ({ name }, ctx) => ({ flushed: true }) })
 */
export function defineRequests<T extends RequestTable>(
  table: T,
  handlers: { [K in keyof T]: RequestHandler<T[K]> },
): { [K in keyof T]: RequestSpec<T[K]["params"], T[K]["result"]> } {
  const out: Record<string, RequestSpec<any, any>> = {};
  for (const [type, decl] of Object.entries(table)) {
    const handle = handlers[type];
    if (typeof handle !== "function") throw new TypeError(`request "${type}" is declared but has no handler`);
    out[type] = { ...decl, handle };
  }
  return out as { [K in keyof T]: RequestSpec<T[K]["params"], T[K]["result"]> };
}

/**
 * Every request's params and result types, by wire name. The core declares its own (ping, hello,
 * status); each plugin's schemas.ts adds its table by declaration merging, as services are added,
 * and a custom plugin does the same. `ctx.call` and the host client are typed from it.
 * @example
 * declare module "../../agent/plugin.ts" {
 *   interface AgentRequests extends RequestTypes<typeof healthRequests> {}
 * }
 */
export interface AgentRequests extends RequestTypes<typeof coreRequests> {}

/** The wire names the registry knows. */
export type RequestName = keyof AgentRequests & string;
/** The params type of a registered request. */
export type ParamsOf<K extends RequestName> = AgentRequests[K]["params"];
/** The result type of a registered request. */
export type ResultOf<K extends RequestName> = AgentRequests[K]["result"];

/** `[params, opts]` of a typed call: params may be left out when the request takes none that are required. */
export type CallArgs<K extends RequestName> = {} extends AgentRequests[K]["params"]
  ? [params?: AgentRequests[K]["params"], opts?: CallOptions]
  : [params: AgentRequests[K]["params"], opts?: CallOptions];

export interface CallOptions {
  /** Aborts the call's work (pass a connection's signal, so its work stops when the client goes). */
  signal?: AbortSignal;
}

/**
 * Call a request in-process (as if a client sent it); throws AgentError on failure. Requests in the
 * `AgentRequests` registry are typed (params and result); other names answer `unknown`.
 * @example const { ready } = await ctx.call("sleep-prep", { drain_timeout_secs: 10 }, { signal });
 */
export interface TypedCall {
  <K extends RequestName>(type: K, ...args: CallArgs<K>): Promise<AgentRequests[K]["result"]>;
  <T extends string>(type: T extends RequestName ? never : T, params?: unknown, opts?: CallOptions): Promise<unknown>;
}
