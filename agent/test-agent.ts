// createTestAgent: the testkit's agent for plugin tests: modules created from their flags, files in a temp config
// dir, a manual clock whose first runs have happened, typed call and status, captured log lines.

import { createAgent, type Agent } from "./agent.ts";
import { ManualClock, systemClock, type Clock } from "./clock.ts";
import { readAgentFile } from "./config.ts";
import { ConfigFiles } from "./config-file.ts";
import { parseFlags } from "./flags.ts";
import { memoryLogger } from "./log.ts";
import type { AgentConfig, AgentPlugin, FlagSpec, FlagValues, PluginModule, StatusOf, TypedCall } from "./plugin.ts";
import { listen } from "./server.ts";
import { tempDir, writeFiles, type TestFiles } from "./test-files.ts";
import type { Answer, StatusResult } from "./wire.ts";

export interface TestAgentOptions {
  /**
   * Plugin modules (a file's default export, `definePlugin`'s result), each created from its flags'
   * defaults plus `flags`; or plugins already made (`AgentPlugin`).
   */
  plugins: (PluginModule | AgentPlugin)[];
  /** Flags for the modules, as on the command line (`["--acme-greeting", "hi"]`), parsed by the agent's parser. */
  flags?: string[];
  /**
   * Time: `"manual"` (the default) is a ManualClock that moves only by `advance`; `"system"` is real
   * time; or pass a Clock of your own (a ManualClock you keep).
   */
  clock?: "manual" | "system" | Clock;
  /** Files written into the agent's config dir before the start: `agent.json`, `acme.d/x.json`. */
  files?: TestFiles;
  /** Also listen on a unix socket in the temp dir; its address (`unix:PATH`) is `address` (for AgentClient). */
  socket?: boolean;
  /** The build the agent says it is (default `dev`). */
  build?: "prod" | "dev";
  /**
   * With a manual clock, fire what is due at once before `createTestAgent` resolves: the first run of
   * every schedule (`ctx.every` runs first at once). Default true; false leaves it to your first `advance`.
   */
  firstRuns?: boolean;
}

export interface TestAgentHandle {
  readonly agent: Agent;
  /** The agent's clock (a ManualClock unless you asked for another). */
  readonly clock: Clock;
  /** The config dir (a temp dir, removed by `close`); `files` were written here. */
  readonly dir: string;
  /** `unix:PATH` when created with `socket: true`. */
  readonly address: string | undefined;
  /**
   * Call a request in-process, as a client would (params checked, result checked): typed from
   * `AgentRequests`; throws an AgentError with the wire code on failure.
   * @example await expect(t.call("acme.greet", { who: "" })).rejects.toMatchObject({ code: "E_INVALID_PARAMS" });
   */
  readonly call: TypedCall;
  /** The wire answer to one request (`{ ok, result }` or `{ ok: false, error }`); never throws. */
  request(type: string, params?: unknown): Promise<Answer>;
  /** A streaming request: every event it sent, then its answer. */
  stream(type: string, params?: unknown): Promise<{ events: { event: string; data: unknown }[]; answer: Answer }>;
  /** The core's `status` answer, typed (the plugins' sections are in `plugins`). */
  status(): Promise<StatusResult>;
  /** One module's status section, typed from its `status` hook when it was made by `definePlugin`. */
  section<M extends PluginModule | AgentPlugin>(module: M): Promise<StatusOf<M> | undefined>;
  /**
   * Move the manual clock by `ms`: fires every timer due by then, in order (schedules, deadlines),
   * letting promise callbacks settle around each. Work that waits on the outside world (a command,
   * a socket) is not finished by it: wait for its effect with `waitFor`, then advance again.
   */
  advance(ms: number): Promise<void>;
  /** Captured console lines (`2026-01-01T00:00:00.000Z INFO  acme ...`), or those matching `filter`. */
  logs(filter?: string | RegExp): string[];
  /** Stop the agent (plugins stop in reverse order) and remove the temp dir. */
  close(): Promise<void>;
}

const isModule = (p: PluginModule | AgentPlugin): p is PluginModule => typeof (p as PluginModule).create === "function";

/**
 * Start an agent with these plugins for a test. With the default manual clock, the first run of every
 * schedule has happened when it resolves (`firstRuns`), and time moves only by `advance`.
 * @example
 * const t = await createTestAgent({ plugins: [acme], flags: ["--acme-greeting", "hi"] });
 * expect(await t.call("acme.greet", { who: "ops" })).toEqual({ text: "hi, ops", greetings: 1 });
 * await t.advance(60_000);             // one interval: the heartbeat ran again
 * expect(await t.section(acme)).toEqual({ greetings: 1, beats: 2 });
 * expect(t.logs(/acme/)).not.toEqual([]);
 * await t.close();
 */
export async function createTestAgent(opts: TestAgentOptions): Promise<TestAgentHandle> {
  const clock = opts.clock === undefined || opts.clock === "manual" ? new ManualClock() : opts.clock === "system" ? systemClock() : opts.clock;
  const log = memoryLogger();
  const d = tempDir("mvm-test-agent-");
  let agent: Agent | undefined;
  try {
    writeFiles(d.path, opts.files ?? {});
    const modules = opts.plugins.filter(isModule);
    const specs: Record<string, FlagSpec> = {};
    for (const m of modules)
      for (const [k, s] of Object.entries(m.flags ?? {})) {
        if (Object.hasOwn(specs, k)) throw new TypeError(`createTestAgent: flag --${k} of plugin ${m.name} is declared twice`);
        specs[k] = s;
      }
    const { values, rest } = parseFlags(opts.flags ?? [], specs);
    if (rest.length) throw new TypeError(`createTestAgent: unexpected argument ${JSON.stringify(rest[0])} in flags`);
    const files = new ConfigFiles();
    const config: AgentConfig = { configDir: d.path, build: opts.build ?? "dev", version: "0.0.0-test", maxFrameBytes: 1 << 20, file: readAgentFile(d.path, log, files), files };
    const plugins: AgentPlugin[] = [];
    for (const p of opts.plugins) {
      if (!isModule(p)) {
        plugins.push(p);
        continue;
      }
      const flags: FlagValues = {};
      for (const k of Object.keys(p.flags ?? {})) flags[k] = values[k];
      const made = p.create({ flags, config });
      if (made) plugins.push(made);
    }
    agent = createAgent({ plugins, clock, log, config });
    await agent.start();
    const address = opts.socket ? `unix:${d.path}/agent.sock` : undefined;
    if (address) await listen(agent, address);
    if (clock instanceof ManualClock && opts.firstRuns !== false) await clock.advance(0);
    const a = agent;
    return {
      agent: a,
      clock,
      dir: d.path,
      address,
      call: a.call,
      request: (type, params) => a.dispatch(params === undefined ? { type } : { type, params }),
      async stream(type, params) {
        const events: { event: string; data: unknown }[] = [];
        const answer = await a.dispatch(params === undefined ? { type } : { type, params }, {
          onEvent: (f) => void events.push({ event: (f as { event: string }).event, data: (f as { data: unknown }).data }),
        });
        return { events, answer };
      },
      status: () => a.call("status"),
      async section(m) {
        const s = (await a.call("status")).plugins;
        return (Object.hasOwn(s, m.name) ? s[m.name] : undefined) as never;
      },
      async advance(ms) {
        if (!(clock instanceof ManualClock)) throw new TypeError("advance() needs the manual clock (createTestAgent's default)");
        await clock.advance(ms);
      },
      logs: (filter) => (filter === undefined ? [...log.lines] : log.lines.filter((l) => (typeof filter === "string" ? l.includes(filter) : filter.test(l)))),
      async close() {
        await a.stop({ drainMs: 1000 });
        d.cleanup();
      },
    };
  } catch (e) {
    await agent?.stop({ drainMs: 0 });
    d.cleanup();
    throw e;
  }
}
