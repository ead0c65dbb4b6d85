// The plugin contract: what every plugin module keeps (names, flags, declared requests, a clean start and stop),
// as a list of problems and as bun:test tests, for bundled and custom plugins alike.

import { describe, expect, test } from "bun:test";
import { Kind, type TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { createAgent } from "./agent.ts";
import { ManualClock } from "./clock.ts";
import { describeRequest } from "./describe.ts";
import { parseFlags } from "./flags.ts";
import { memoryLogger } from "./log.ts";
import type { AgentConfig, AgentPlugin, FlagValues, PluginModule } from "./plugin.ts";
import { tempDir, writeFiles, type TestFiles } from "./test-files.ts";
import { CORE_FLAGS } from "./usage.ts";
import { coreRequests, RequestType } from "./wire.ts";

export interface ContractOptions {
  /**
   * Modules loaded beside it in a real agent: its flags, plugin name and request names must not be
   * theirs, and those it `needs` are started with it. The public testkit passes the bundled modules.
   */
  alongside?: PluginModule[];
  /** Flags to create it with (default: every flag's default). */
  flags?: string[];
  /** Files in the config dir it starts with. */
  files?: TestFiles;
}

/** One check of the contract: its name (a test title) and what it found wrong (empty: kept). */
export interface ContractCheck {
  name: string;
  run(): Promise<string[]>;
}

const REQUEST_NAME = new RegExp(RequestType.pattern!);

function create(m: PluginModule, configDir: string, argv: string[] = []): AgentPlugin | null {
  const { values } = parseFlags(argv, m.flags ?? {});
  const flags: FlagValues = {};
  for (const k of Object.keys(m.flags ?? {})) flags[k] = values[k];
  const config: AgentConfig = { configDir, build: "dev", version: "0.0.0", maxFrameBytes: 1 << 20, file: {} };
  return m.create({ flags, config });
}

/** Run `fn` with a fresh temp config dir holding `files`; the dir is removed after. */
async function inDir<T>(files: TestFiles | undefined, fn: (dir: string) => Promise<T> | T): Promise<T> {
  const d = tempDir("mvm-contract-");
  try {
    writeFiles(d.path, files ?? {});
    return await fn(d.path);
  } finally {
    d.cleanup();
  }
}

function compiles(schema: unknown): string | null {
  if (schema === null || typeof schema !== "object" || (schema as TSchema)[Kind] === undefined) return "is not a TypeBox schema";
  try {
    TypeCompiler.Compile(schema as TSchema);
    return null;
  } catch (e) {
    return `does not compile: ${(e as Error).message}`;
  }
}

/**
 * The contract's checks for one module, each returning its problems. `checkPluginContract` turns them
 * into tests; call `run()` yourself to check outside bun:test.
 * @example for (const c of pluginContract(acme)) expect(await c.run()).toEqual([]);
 */
export function pluginContract(m: PluginModule, opts: ContractOptions = {}): ContractCheck[] {
  const others = (opts.alongside ?? []).filter((o) => o !== m);
  const withPlugin = (fn: (p: AgentPlugin, dir: string) => Promise<string[]> | string[]) => () =>
    inDir(opts.files, async (dir) => {
      const p = create(m, dir, opts.flags);
      return p ? fn(p, dir) : [];
    });
  const checks: ContractCheck[] = [
    {
      name: "the module has a name and a create function; its flags parse, with defaults of their kinds, and are no one else's",
      run: async () => {
        const out: string[] = [];
        if (typeof m.name !== "string" || !/^[a-z0-9][a-z0-9._-]{0,62}$/.test(m.name)) out.push(`module name ${JSON.stringify(m.name)} is not a lowercase name (a-z, 0-9, . _ -)`);
        if (m.name === "core") out.push(`"core" is the core's own plugin name`);
        if (others.some((o) => o.name === m.name)) out.push(`module name ${m.name} is taken by a module beside it`);
        if (typeof m.create !== "function") out.push("create is not a function");
        for (const k of Object.keys(m.flags ?? {})) {
          if (Object.hasOwn(CORE_FLAGS, k)) out.push(`flag --${k} is the core's`);
          const owner = others.find((o) => Object.hasOwn(o.flags ?? {}, k));
          if (owner) out.push(`flag --${k} is plugin ${owner.name}'s`);
        }
        try {
          parseFlags(opts.flags ?? [], m.flags ?? {});
        } catch (e) {
          out.push((e as Error).message);
        }
        return out;
      },
    },
    {
      name: "create() gives a plugin of the module's name (or null), and everything it needs is loaded beside it",
      run: () =>
        inDir(opts.files, (dir) => {
          const p = create(m, dir, opts.flags);
          if (!p) return [];
          const out: string[] = [];
          if (p.name !== m.name) out.push(`the plugin is named ${JSON.stringify(p.name)}, its module ${JSON.stringify(m.name)}`);
          for (const n of p.needs ?? []) if (!others.some((o) => o.name === n)) out.push(`needs plugin ${n}, which is not among the modules beside it (pass it in alongside)`);
          return out;
        }),
    },
    {
      name: "every request has a valid name, TypeBox params and result schemas (and events) that compile, a description, and a name no one else serves",
      run: withPlugin((p, dir) => {
        const out: string[] = [];
        const taken = new Map<string, string>(Object.keys(coreRequests).map((k) => [k, "core"]));
        for (const o of others) {
          const op = create(o, dir);
          for (const t of Object.keys(op?.requests ?? {})) taken.set(t, o.name);
        }
        for (const [type, spec] of Object.entries(p.requests ?? {})) {
          if (!REQUEST_NAME.test(type)) out.push(`request ${JSON.stringify(type)}: not a request name (${RequestType.pattern})`);
          if (taken.has(type)) out.push(`request ${type} is served by ${taken.get(type)} already`);
          for (const [what, s] of [["params", spec.params], ["result", spec.result], ...Object.entries(spec.events ?? {}).map(([e, s]) => [`event ${e}`, s] as const)] as const) {
            const bad = compiles(s);
            if (bad) out.push(`request ${type}: ${what} ${bad}`);
          }
          if (typeof spec.description !== "string" || spec.description.trim() === "") out.push(`request ${type}: no description (listings, describe and the host's OpenAPI show it)`);
          if (typeof spec.handle !== "function") out.push(`request ${type}: no handler`);
          if (spec.deadlineParam !== undefined) {
            const field = (spec.params as { properties?: Record<string, { type?: unknown }> }).properties?.[spec.deadlineParam];
            if (field?.type !== "integer" && field?.type !== "number") out.push(`request ${type}: deadlineParam ${spec.deadlineParam} is not a number field of its params`);
          }
          const described = describeRequest(type, p.name, spec);
          for (const [what, s] of [["params", described.params], ["result", described.result]] as const)
            if (s["x-unrepresentable"]) out.push(`request ${type}: its ${what} schema cannot be written as JSON (describe and the host cannot show it)`);
        }
        return out;
      }),
    },
    {
      name: "starts and stops cleanly on a manual clock, stops twice harmlessly, leaves no timer or schedule, and its status is JSON",
      run: withPlugin(async (p, dir) => {
        const out: string[] = [];
        const needed = needsOf(p, others, dir);
        const clock = new ManualClock();
        const log = memoryLogger();
        let agent;
        try {
          agent = createAgent({ plugins: [...needed, p], clock, log, config: { configDir: dir } });
        } catch (e) {
          return [`an agent with it cannot be assembled: ${(e as Error).message}`];
        }
        try {
          await agent.start();
        } catch (e) {
          return [`start failed: ${(e as Error).message}`];
        }
        await clock.advance(0);
        await clock.advance(1000);
        const section = (await agent.call("status")).plugins[p.name];
        try {
          JSON.stringify(section);
        } catch (e) {
          out.push(`its status section cannot be written as JSON: ${(e as Error).message}`);
        }
        const served = (await agent.call("describe")).requests.filter((r) => r.plugin === p.name).map((r) => r.type);
        const declared = Object.keys(p.requests ?? {}).sort();
        if (JSON.stringify(served) !== JSON.stringify(declared)) out.push(`describe lists ${served.join(", ") || "nothing"} for it, it declares ${declared.join(", ") || "nothing"}`);
        await agent.stop({ drainMs: 100 });
        await agent.stop({ drainMs: 100 });
        if (agent.scheduler.size !== 0) out.push(`${agent.scheduler.size} schedule(s) left after stop`);
        if (clock.pending() !== 0) out.push(`${clock.pending()} timer(s) left on the clock after stop`);
        for (const l of log.lines) if (/ ERROR /.test(l)) out.push(`logged an error: ${l}`);
        return out;
      }),
    },
  ];
  // A check that throws (a create() that throws, flags that do not parse) reports it as its problem.
  return checks.map((c) => ({
    name: c.name,
    run: async () => {
      try {
        return await c.run();
      } catch (e) {
        return [`${(e as Error)?.message ?? String(e)}`];
      }
    },
  }));
}

/** The plugins `p` needs, transitively, made from the modules beside it (missing ones are reported elsewhere). */
function needsOf(p: AgentPlugin, others: PluginModule[], dir: string): AgentPlugin[] {
  const out = new Map<string, AgentPlugin>();
  const visit = (x: AgentPlugin) => {
    for (const n of x.needs ?? []) {
      if (out.has(n)) continue;
      const m = others.find((o) => o.name === n);
      const made = m ? create(m, dir) : null;
      if (made) {
        out.set(n, made);
        visit(made);
      }
    }
  };
  visit(p);
  return [...out.values()];
}

/**
 * The contract suite as bun:test tests, under `describe("plugin contract: NAME")`: call it at the top
 * level of a test file, once per module.
 * @example
 * import acme from "./index.ts";
 * checkPluginContract(acme);
 */
export function checkPluginContract(m: PluginModule, opts: ContractOptions = {}): void {
  describe(`plugin contract: ${m?.name}`, () => {
    for (const c of pluginContract(m, opts)) test(c.name, async () => expect(await c.run()).toEqual([]));
  });
}
