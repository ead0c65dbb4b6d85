// The probes plugin: probes.d/*.json commands on schedules, served as `probes` and `probe-run`.

import { join } from "node:path";
import { watchDir } from "../../agent/config.ts";
import { AgentError } from "../../agent/errors.ts";
import { defineRequests, type AgentPlugin, type PluginModule } from "../../agent/plugin.ts";
import { ProbeSet } from "./probes.ts";
import { probeJsonSchema, probesRequests } from "./schemas.ts";

export interface ProbesOptions {
  /** The probes.d directory (default `<config-dir>/probes.d`). */
  dir?: string;
  /** Reload when files in the directory change (default true); SIGHUP reloads either way. */
  watch?: boolean;
}

/**
 * Build the probes plugin.
 * @example createAgent({ plugins: [probesPlugin({ dir: "/etc/mvm/probes.d" })] });
 */
export function probesPlugin(opts: ProbesOptions = {}): AgentPlugin {
  let set: ProbeSet | null = null;
  const current = (): ProbeSet => {
    if (!set) throw new AgentError("E_UNAVAILABLE", "the probes plugin is not running");
    return set;
  };
  return {
    name: "probes",
    requests: defineRequests(probesRequests, {
      probes: () => ({ probes: current().results() }),
      "probe-run": ({ name }) => current().runNow(name),
    }),
    start(ctx) {
      const dir = opts.dir ?? join(ctx.config.configDir, "probes.d");
      const s = new ProbeSet(ctx, dir);
      set = s;
      s.load();
      if (opts.watch !== false) ctx.onDispose(watchDir(dir, () => set === s && s.load()));
      ctx.on("wake", () => s.wake());
      ctx.onDispose(() => {
        if (set === s) set = null;
      });
    },
    async stop() {
      // Kill runs in flight and wait for them, so that nothing outlives the agent's stop.
      await set?.close();
    },
    reload() {
      set?.load();
    },
    status: () => set?.status() ?? null,
  };
}

export const probesModule: PluginModule = {
  name: "probes",
  schemas: { probe: probeJsonSchema },
  create: ({ config }) => probesPlugin({ dir: join(config.configDir, "probes.d") }),
};
