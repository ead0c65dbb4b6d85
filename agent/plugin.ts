// The plugin API: AgentPlugin, PluginContext, request specs, services and events between plugins.

import type { Static, TSchema } from "@sinclair/typebox";
import type { Clock } from "./clock.ts";
import type { CommandResult, CommandSpec } from "./command.ts";
import type { DropinProblem } from "./config.ts";
import type { ConfigFiles } from "./config-file.ts";
import type { Logger } from "./log.ts";
import type { RequestDecl, RequestTable, RequestTypes } from "./requests.ts";
import type { Schedule, ScheduleOptions, Task } from "./scheduler.ts";
import type { coreRequests } from "./wire.ts";

export type { RequestDecl, RequestTable, RequestTypes } from "./requests.ts";
export { deadlineSecs } from "./requests.ts";

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

/**
 * An alternative envelope (another project's wire dialect) served on the same sockets. The core
 * offers each decoded body the native envelope does not accept (a bare string, an object without
 * `type`) to the dialects in order; the first whose `matches` is true answers it.
 */
export interface Dialect {
  name: string;
  /** Cap for answers in this dialect (bytes of JSON). Defaults to the agent's frame cap. */
  maxFrameBytes?: number;
  matches(body: unknown): boolean;
  /**
   * Answer one body. `conn` is a per-connection scratch map (session state such as a hello).
   * Return the bodies to write (a streaming answer may write several), and whether to close after.
   * Called only while the dialect's plugin runs.
   */
  handle(body: unknown, io: DialectIO): Promise<DialectReply>;
  /**
   * The body that answers a frame while the dialect's plugin is not running (before its start,
   * after its stop), given the core's reason. Absent: the connection is closed instead.
   */
  refuse?(message: string): unknown;
}

export interface DialectIO {
  readonly conn: Map<string, unknown>;
  readonly signal: AbortSignal;
  /** The context of the plugin that offers the dialect. */
  readonly plugin: PluginContext;
  /** Send one body now, before the final reply (streams). */
  write(body: unknown): void;
  /** Resolves once the connection can take more (see RequestContext.writable); absent: at once. */
  writable?(): Promise<void>;
}

export interface DialectReply {
  body?: unknown;
  close?: boolean;
}

/**
 * Services plugins offer each other, keyed by name. Plugins add entries by declaration merging:
 * @example
 * declare module "../../agent/plugin.ts" {
 *   interface AgentServices { integrations: IntegrationsService }
 * }
 */
export interface AgentServices {}

/**
 * Events between plugins, keyed by name, with their payloads. Listeners may be async; `emit`
 * waits for all of them. The core declares only its own; a plugin declares the events it emits by
 * declaration merging in its schemas.ts (the snapshot plugin: `sleep-prep`, `wake`):
 * @example
 * declare module "../../agent/plugin.ts" {
 *   interface AgentEvents { "acme.flushed": { at: number } }
 * }
 */
export interface AgentEvents {
  /** SIGHUP or a reload request, after every plugin's own reload. */
  reload: Record<string, never>;
}

/** Settings every plugin may read. */
export interface AgentConfig {
  /** Where drop-in files live (`/etc/mvm`). */
  readonly configDir: string;
  readonly build: "prod" | "dev";
  readonly version: string;
  readonly maxFrameBytes: number;
  /** The parsed `<configDir>/agent.json`, or {} (plugins validate their own section). */
  readonly file: Readonly<Record<string, unknown>>;
  /**
   * The config-file trust policy (`--insecure-config`) and the book of refused files that `status`
   * shows; loaders pass it to `loadDropins`. Always set on a running agent's context.
   */
  readonly files?: ConfigFiles;
  /**
   * The kinds of listener the agent serves (main fills it from `--listen`). A vsock or serial one means
   * the agent runs in a VM; only unix sockets means a container or a host (the snapshot plugin then
   * leaves the shared wall clock alone). Absent (an in-memory agent): none known.
   */
  readonly transports?: readonly ("unix" | "vsock" | "serial")[];
}

/** What the core hands a plugin at start. Everything registered through it is released on stop. */
export interface PluginContext {
  readonly name: string;
  readonly log: Logger;
  readonly clock: Clock;
  readonly config: AgentConfig;
  /**
   * Run `task` every `intervalMs` (fixed delay: the next run starts an interval after the previous
   * one finished; never two at once). Paused by `schedules.pauseAll`; cancelled when the plugin stops.
   * @example ctx.every(5_000, async (signal) => sample(signal), { name: "loadavg" });
   */
  every(intervalMs: number, task: Task, opts?: ScheduleOptions): Schedule;
  /** Register a disposer the core calls when the plugin stops (watchers, sockets). */
  onDispose(dispose: () => void | Promise<void>): void;
  /** Run a command through the shared runner (own process group, timeout kills the group). */
  runCommand(spec: CommandSpec): Promise<CommandResult>;
  /** Mark the agent busy until the returned function is called (worker status counts it). */
  beginWork(label: string): () => void;
  /** How many units of work are in flight. */
  workInFlight(): number;
  /**
   * The agent's state word, answered as `status.state`: `running` unless a plugin holds the whole
   * agent in another (the snapshot plugin: `preparing`, then `sleeping` until wake).
   */
  readonly agentState: string;
  /**
   * Set the agent's state word (one console line on a change); `running` gives it back. Throws a
   * TypeError for a word that does not match AGENT_STATE_PATTERN (agent/wire.ts).
   * @example ctx.setAgentState("sleeping");
   */
  setAgentState(word: string): void;
  /** Every plugin's schedules at once: a core facility any plugin may use. */
  readonly schedules: {
    /**
     * Stop every schedule of every plugin from firing and wait for runs in flight; at `deadlineMs`
     * their signals abort (their commands' process groups are killed). Resolves with how many were aborted.
     * @example const { aborted } = await ctx.schedules.pauseAll(30_000);
     */
    pauseAll(deadlineMs?: number): Promise<{ aborted: number }>;
    /** Fire again: with `runNow`, every schedule runs at once, else one interval from now. */
    resumeAll(opts?: { runNow?: boolean }): void;
    /** Between pauseAll and resumeAll. */
    readonly paused: boolean;
  };
  /** Offer a service to other plugins. */
  provide<K extends keyof AgentServices>(key: K, service: AgentServices[K]): void;
  /** A service another plugin offers, if it is loaded. */
  service<K extends keyof AgentServices>(key: K): AgentServices[K] | undefined;
  /** Listen to an event; returns a disposer (also released on stop). */
  on<K extends keyof AgentEvents>(event: K, fn: (payload: AgentEvents[K]) => void | Promise<void>): () => void;
  /** Tell every listener, and wait for them. A listener that throws is logged, not fatal. */
  emit<K extends keyof AgentEvents>(event: K, payload: AgentEvents[K]): Promise<void>;
  /**
   * Call any request in-process (as if a client sent it); throws AgentError on failure. Typed from
   * the `AgentRequests` registry; pass the handler's signal so the work stops with its client.
   * @example const { ready } = await ctx.call("sleep-prep", { drain_timeout_secs: 10 }, { signal: io.signal });
   */
  readonly call: TypedCall;
}

/**
 * A capability: a plain object from a factory. The core knows no plugin; `agent/main.ts` lists them.
 * @example
 * export function helloWorldPlugin(): AgentPlugin {
 *   return {
 *     name: "hello-world",
 *     requests: { "acme.greet": defineRequest({ params: Params, result: Result, handle: ({ who }) => ({ text: `hi ${who}` }) }) },
 *     start(ctx) { ctx.every(60_000, () => ctx.log.info("still here")); },
 *   };
 * }
 */
export interface AgentPlugin {
  /** Unique; used for logs and the `status` section. */
  name: string;
  /**
   * Plugins this one cannot work without: the agent refuses to start without them
   * (`E_MISSING_NEED`, naming both), starts them first and stops them after this one.
   */
  needs?: readonly string[];
  /**
   * Plugins this one uses when they are loaded (a service, an event): they start first and stop
   * after this one; a missing one is no error. A circle through `needs` and `after` is `E_NEED_CYCLE`.
   */
  after?: readonly string[];
  requests?: Record<string, RequestSpec<any, any>>;
  dialects?: Dialect[];
  /**
   * Called in start order under a timeout; a throw fails the agent's start. Every hook gets the
   * same context, and the core calls `stop`, `status` and `reload` only between start and stop.
   */
  start?(ctx: PluginContext): void | Promise<void>;
  /** Called in reverse order, once. Schedules and disposers are released by the core after it. */
  stop?(ctx: PluginContext): void | Promise<void>;
  /** A section of the built-in `status` answer. */
  status?(ctx: PluginContext): unknown;
  /** SIGHUP: re-read files. */
  reload?(ctx: PluginContext): void | Promise<void>;
}

/** Flags a plugin module adds to the agent's command line. */
export interface FlagSpec {
  type: "string" | "number" | "boolean" | "list";
  description: string;
  default?: string | number | boolean | string[];
}

export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

/** What a plugin module's factory receives from main. */
export interface PluginSetup {
  /** This module's flags, parsed (kebab-case names as declared). */
  flags: FlagValues;
  config: AgentConfig;
}

/**
 * A drop-in directory a module reads (`integrations.d`), for tools that check or write its files
 * without an agent (`mvm-guest-agent config check|render`): the composition root hands every
 * module's formats to sub-commands, so no module imports another's loader.
 * @example dropins: { probe: { dir: "probes.d", noun: "probe", check: (raw) => ..., load: (dir, log) => ... } }
 */
export interface DropinFormat {
  /** The directory under the config dir. */
  dir: string;
  /** What one file holds, for messages (`integration`). */
  noun: string;
  /** Check one file's object as the agent loads it: why it would be skipped, or undefined when it loads. */
  check(raw: Record<string, unknown>): string | undefined;
  /** Load a directory as the agent would; unknown keys are warnings on `log`. Never throws. */
  load(dir: string, log: Logger): DropinReport;
}

/** What loading one drop-in directory gives, for tools. */
export interface DropinReport {
  /** In file-name order: the parsed value (defaults applied); `note` says something worth knowing (`no health_cmd: unchecked`). */
  loaded: { name: string; file: string; value: unknown; note?: string }[];
  skipped: DropinProblem[];
  /** The directory does not exist (zero entries, not an error). */
  missing: boolean;
}

/** What a sub-command gets from the composition root besides its arguments. */
export interface CommandEnv {
  /** Every module's drop-in formats, by name (`integration`, `probe`). */
  dropins: Record<string, DropinFormat>;
  stdout(text: string): void;
  stderr(text: string): void;
}

/**
 * How `agent/main.ts` and `scripts/build.ts` find a plugin: its flags, its file formats (for
 * `mvm-guest-agent schema NAME` and `config check`), its sub-commands, and the factory.
 */
export interface PluginModule {
  name: string;
  /** Only in dev builds. */
  devOnly?: boolean;
  flags?: Record<string, FlagSpec>;
  /** JSON Schemas of file formats this plugin reads, by name (`integration`, `probe`). */
  schemas?: Record<string, () => unknown>;
  /** Drop-in directories this plugin reads, by format name (`integration`, `probe`). */
  dropins?: Record<string, DropinFormat>;
  /** Sub-commands (`config` -> `mvm-guest-agent config ...`): return the exit code. */
  commands?: Record<string, { description: string; run(args: string[], env: CommandEnv): Promise<number> }>;
  /** Build the plugin; return null to leave it out (for example `--no-exec`). */
  create(setup: PluginSetup): AgentPlugin | null;
}
