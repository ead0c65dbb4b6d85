// Test support for the health plugin: a config dir with integration files and an agent on a manual clock.

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createAgent, type Agent } from "../../agent/agent.ts";
import { ManualClock } from "../../agent/clock.ts";
import { memoryLogger } from "../../agent/log.ts";
import type { PluginContext } from "../../agent/plugin.ts";
import { tempDir } from "../../agent/testing.ts";
import { healthPlugin } from "./health.ts";
import type { HealthResult, IntegrationEntry } from "./schemas.ts";

export interface HealthFixture {
  agent: Agent;
  clock: ManualClock;
  log: ReturnType<typeof memoryLogger>;
  /** The temp config dir; integrations go in `<dir>/integrations.d`. */
  dir: string;
  /** A context of a bystander plugin: emit events and pause schedules as the snapshot plugin does. */
  peer: PluginContext;
  /** Write (or overwrite) `integrations.d/<file>` with this value (objects as JSON, strings as is). */
  write(file: string, value: unknown): void;
  remove(file: string): void;
  /** Advance the clock, then wait until no check is running. */
  tick(ms: number): Promise<void>;
  health(): Promise<HealthResult>;
  entry(name: string): Promise<IntegrationEntry>;
  /** Console lines of the health plugin, without their timestamp and level. */
  lines(): string[];
  close(): Promise<void>;
}

export interface FixtureOptions {
  files?: Record<string, unknown>;
  maxConcurrentChecks?: number;
  watch?: boolean;
  /** Do not create integrations.d. */
  noDir?: boolean;
}

/** An agent with only the health plugin, on a ManualClock, over a temp config dir. */
export async function healthFixture(opts: FixtureOptions = {}): Promise<HealthFixture> {
  const d = tempDir("mvm-health-");
  const idir = join(d.path, "integrations.d");
  const write = (file: string, value: unknown) => {
    mkdirSync(idir, { recursive: true });
    writeFileSync(join(idir, file), typeof value === "string" ? value : JSON.stringify(value));
  };
  if (!opts.noDir) mkdirSync(idir, { recursive: true });
  for (const [f, v] of Object.entries(opts.files ?? {})) write(f, v);
  const clock = new ManualClock();
  const log = memoryLogger();
  let peer: PluginContext | undefined;
  const agent = createAgent({
    plugins: [
      healthPlugin({ configDir: d.path, maxConcurrentChecks: opts.maxConcurrentChecks, watch: opts.watch ?? false }),
      { name: "peer", start: (c) => void (peer = c) },
    ],
    config: { configDir: d.path },
    clock,
    log,
  });
  await agent.start();
  const tick = async (ms: number) => {
    await clock.advance(ms);
    await agent.scheduler.idle();
  };
  return {
    agent,
    clock,
    log,
    dir: d.path,
    peer: peer!,
    write,
    remove: (file) => rmSync(join(idir, file), { force: true }),
    tick,
    health: async () => (await agent.call("health")) as HealthResult,
    entry: async (name) => {
      const h = (await agent.call("health")) as HealthResult;
      const e = h.integrations.find((i) => i.name === name);
      if (!e) throw new Error(`no entry ${name} in ${JSON.stringify(h)}`);
      return e;
    },
    lines: () => log.lines.filter((l) => / health /.test(l)).map((l) => l.replace(/^\S+ \S+\s+health /, "")),
    async close() {
      await agent.stop({ drainMs: 100 });
      d.cleanup();
    },
  };
}
