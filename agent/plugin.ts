// The plugin API: AgentPlugin, PluginContext, services and events between plugins, modules (requests: requests.ts).
// It is the package's `mvm-guest-agent/plugin` entry: everything an author imports comes from here.

import type { ArgSpec } from "./argv.ts";
import type { z } from "zod";
import type { Clock } from "./clock.ts";
import type { CommandResult, CommandSpec } from "./command.ts";
import type { AgentFileSpec, DropinProblem } from "./config.ts";
import type { ConfigFiles } from "./config-file.ts";
import type { Logger } from "./log.ts";
import type { Dialect } from "./dialect.ts";
import type { RequestSpec, TypedCall } from "./requests.ts";
import type { Schedule, ScheduleOptions, Task } from "./scheduler.ts";

// The request and dialect halves of the API live in their own files; authors import all of it from
// here, and declaration merging into AgentRequests targets this module like AgentServices.
export type {
  AgentRequests,
  CallArgs,
  CallOptions,
  ParamsOf,
  RequestContext,
  RequestDecl,
  RequestHandler,
  RequestName,
  RequestSpec,
  RequestTable,
  RequestTypes,
  ResultOf,
  TypedCall,
} from "./requests.ts";
export { deadlineSecs, defineRequest, defineRequests } from "./requests.ts";
export type { Dialect, DialectIO, DialectReply } from "./dialect.ts";
export { definePlugin, type DefinedPlugin, type PluginBody, type PluginDefinition, type StatusOf } from "./define.ts";
// Throw `new AgentError("E_NOT_FOUND", ...)` from a handler for a coded failure (docs/errors.md lists the codes).
export { AgentError, ERROR_CODES, type ErrorCode } from "./errors.ts";
// The types PluginContext's members take and give, so that an author names them without reaching into other files.
export type { Clock, TimerHandle } from "./clock.ts";
export type { CommandResult, CommandSpec } from "./command.ts";
export type { Logger, LogFields, LogLevel } from "./log.ts";
export type { Schedule, ScheduleOptions, Task } from "./scheduler.ts";
export type { ArgSpec, ArgValues } from "./argv.ts";
export type { DescribeResult, HelloResult, StatusResult } from "./wire.ts";

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
  /**
   * The parsed `<configDir>/agent.json` (without its `x-` keys), or {} when it is missing or was skipped
   * (an unknown key, a bad section: see `PluginModule.configSections`). Plugins validate their own section.
   */
  readonly file: Readonly<Record<string, unknown>>;
  /**
   * A check or probe that keeps failing is told once, then at most once per this many seconds with a
   * count (`--log-repeat-secs`; absent: 600).
   */
  readonly logRepeatSecs?: number;
  /** agent.json read again and checked as at start (a plugin's `reload` on SIGHUP); absent: an in-memory agent. */
  readonly readFile?: () => Readonly<Record<string, unknown>>;
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

/**
 * A flag a plugin module adds to the agent's command line: agent/argv.ts's spec (`type`, `description`,
 * `default`, `short`, `arg`). `definePlugin` types the values from it.
 */
export type FlagSpec = ArgSpec;

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
  /** What agent.json may hold in this build (every module's sections), for `config check`. */
  agentFile?: AgentFileSpec;
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
  /**
   * Sections of agent.json this plugin reads, by key (`worker`), as zod objects. agent.json is checked
   * against every module's sections: a key that none declares, or an unknown key inside a section
   * (`x-` keys aside), skips the whole file with an error naming the nearest known key. `schema agent`
   * prints them together.
   */
  configSections?: Record<string, z.ZodObject>;
  /** Top-level agent.json keys this plugin reads besides its sections (the original agent's `busy_threshold`). */
  configKeys?: readonly string[];
  /** Sub-commands (`config` -> `mvm-guest-agent config ...`): return the exit code. */
  commands?: Record<string, { description: string; run(args: string[], env: CommandEnv): Promise<number> }>;
  /** Build the plugin; return null to leave it out (for example `--no-exec`). */
  create(setup: PluginSetup): AgentPlugin | null;
}
