// Test support for mvm-compat: an agent with the real plugins (built from their modules) on a unix socket, and raw mvm frames.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ManualClock } from "../../agent/clock.ts";
import { parseFlags } from "../../agent/flags.ts";
import type { AgentConfig, AgentPlugin, PluginModule } from "../../agent/plugin.ts";
import { RawClient, startTestAgent, tempDir, waitFor, type TestAgent } from "../../agent/testing.ts";
import { builtinModules } from "../index.ts";
import { mvmCompatPlugin, type MvmCompatOptions } from "./index.ts";

export interface CompatOptions {
  /** integrations.d/<name>.json bodies, given the temp dir (for files the commands write). */
  integrations?: (dir: string) => Record<string, unknown>[];
  /** probes.d/<name>.json bodies. */
  probes?: Record<string, unknown>[];
  /** Leave exec out, as a production build does. */
  prod?: boolean;
  /** Build the mvm-compat plugin with these options instead of from its module. */
  compat?: MvmCompatOptions;
  /** Content of the fake /proc/loadavg. */
  loadavg?: string;
}

export interface CompatAgent {
  t: TestAgent;
  clock: ManualClock;
  /** The config dir (integrations.d, probes.d) and scratch files. */
  dir: string;
  /** The overlay layers fs-diff reads. */
  upper: string;
  lower: string;
  dropCaches: string;
  connect(): Promise<RawClient>;
  close(): Promise<void>;
}

/** One frame with exactly these body bytes, as the original host writes it (u32 big-endian length + JSON). */
export function frame(json: string): Buffer {
  const body = Buffer.from(json, "utf8");
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** Send the exact bytes of one mvm request and read the next answer. */
export async function ask(c: RawClient, json: string): Promise<any> {
  c.write(frame(json));
  return c.next();
}

/** The real modules, from the bundled list (this suite maps the mvm dialect onto every one of them). */
const modules = new Map(builtinModules().map((m) => [m.name, m]));

function build(name: string, argv: string[], config: AgentConfig): AgentPlugin {
  const m: PluginModule | undefined = modules.get(name);
  if (!m) throw new Error(`no bundled module named ${name}`);
  const { values } = parseFlags(argv, m.flags ?? {});
  const p = m.create({ flags: values, config });
  if (!p) throw new Error(`module ${m.name} built nothing`);
  return p;
}

/** An agent with health, probes, worker, snapshot, fsdiff, mvm-compat (and exec unless `prod`) over fixtures. */
export async function startCompatAgent(o: CompatOptions = {}): Promise<CompatAgent> {
  const d = tempDir("mvm-compat-");
  const dir = d.path;
  mkdirSync(join(dir, "integrations.d"));
  mkdirSync(join(dir, "probes.d"));
  for (const i of o.integrations?.(dir) ?? []) writeFileSync(join(dir, "integrations.d", `${i.name}.json`), JSON.stringify(i));
  for (const p of o.probes ?? []) writeFileSync(join(dir, "probes.d", `${p.name}.json`), JSON.stringify(p));
  const loadavg = join(dir, "loadavg");
  writeFileSync(loadavg, o.loadavg ?? "0.50 0.40 0.30 1/100 4242\n");
  const dropCaches = join(dir, "drop_caches");
  writeFileSync(dropCaches, "");
  const upper = join(dir, "upper");
  const lower = join(dir, "lower");
  mkdirSync(upper);
  mkdirSync(lower);
  const config: AgentConfig = { configDir: dir, build: o.prod ? "prod" : "dev", version: "9.8.7", maxFrameBytes: 1 << 20, file: {} };
  const plugins = [
    build("health", [], config),
    build("probes", [], config),
    build("worker", ["--loadavg-path", loadavg], config),
    build("snapshot", ["--drop-caches-path", dropCaches, "--no-set-clock"], config),
    build("fsdiff", ["--overlay-upper", upper, "--overlay-lower", lower], config),
    o.compat ? mvmCompatPlugin(o.compat) : build("mvm-compat", [], config),
  ];
  if (!o.prod) plugins.push(build("exec", [], config));
  const clock = new ManualClock();
  const t = await startTestAgent({ plugins, clock, config });
  await clock.advance(0);
  const clients: RawClient[] = [];
  return {
    t,
    clock,
    dir,
    upper,
    lower,
    dropCaches,
    async connect() {
      const c = await RawClient.connect(t.socket);
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.close();
      await t.close();
      d.cleanup();
    },
  };
}

/** Wait until every integration with a health_cmd has a result, and every probe has run. */
export async function settled(a: CompatAgent): Promise<void> {
  await waitFor(async () => {
    const h = (await a.t.agent.call("health")) as { integrations: { status: string; last: unknown }[] };
    return h.integrations.every((i) => i.status === "unchecked" || i.last !== null);
  }, 10_000, "a first health check of every integration");
  await waitFor(async () => {
    const p = (await a.t.agent.call("probes")) as { probes: { checked_at: string | null }[] };
    return p.probes.every((x) => x.checked_at !== null);
  }, 10_000, "a first run of every probe");
}
