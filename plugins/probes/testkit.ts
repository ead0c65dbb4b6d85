// Test support for the probes plugin: an agent on a manual clock over a temp probes.d, and a context to poke.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createAgent, type Agent } from "../../agent/agent.ts";
import { ManualClock } from "../../agent/clock.ts";
import { memoryLogger } from "../../agent/log.ts";
import type { AgentPlugin, PluginContext } from "../../agent/plugin.ts";
import { tempDir } from "../../agent/testing.ts";
import { probesPlugin } from "./index.ts";
import type { ProbeResult } from "./schemas.ts";

export interface Harness {
  agent: Agent;
  clock: ManualClock;
  log: ReturnType<typeof memoryLogger>;
  root: string;
  dir: string;
  ctx: () => PluginContext;
  write(file: string, value: unknown): void;
  probes(): Promise<ProbeResult[]>;
  probe(name: string): Promise<ProbeResult | undefined>;
  run(name: string): Promise<ProbeResult>;
}

const open: { agent: Agent; cleanup(): void }[] = [];

/** Stop every harness agent and remove its dir (the suite's afterEach). */
export async function closeHarnesses(): Promise<void> {
  for (const o of open.splice(0)) {
    await o.agent.stop({ drainMs: 0 });
    o.cleanup();
  }
}

/** An agent with the probes plugin on `<tmp>/probes.d` (files written first), and a plugin that lends its context. */
export async function harness(files: Record<string, unknown>, opts: { watch?: boolean; mkdir?: boolean } = {}): Promise<Harness> {
  const t = tempDir("mvm-probes-");
  const dir = join(t.path, "probes.d");
  if (opts.mkdir !== false) mkdirSync(dir);
  const write = (file: string, value: unknown) => writeFileSync(join(dir, file), typeof value === "string" ? value : JSON.stringify(value));
  for (const [f, v] of Object.entries(files)) write(f, v);
  const clock = new ManualClock();
  const log = memoryLogger();
  let context: PluginContext | undefined;
  const spy: AgentPlugin = { name: "spy", start: (c) => void (context = c) };
  const agent = createAgent({ plugins: [probesPlugin({ dir, watch: opts.watch ?? false }), spy], clock, log, config: { configDir: t.path } });
  open.push({ agent, cleanup: t.cleanup });
  await agent.start();
  const probes = async () => (await agent.call("probes")).probes;
  return {
    agent,
    clock,
    log,
    root: t.path,
    dir,
    ctx: () => context!,
    write,
    probes,
    probe: async (name) => (await probes()).find((p) => p.name === name),
    run: (name) => agent.call("probe-run", { name }),
  };
}
