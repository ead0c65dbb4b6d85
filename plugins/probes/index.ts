// The probes plugin: probes.d/*.json commands on schedules, served as `probes` and `probe-run`.

import { join } from "node:path";
import { parseDropin, watchDir } from "../../agent/config.ts";
import { listedSkipped } from "../../agent/config-file.ts";
import { defineRequests, type AgentPlugin, type DropinFormat, type PluginModule } from "../../agent/plugin.ts";
import { loadProbes, ProbeSet } from "./probes.ts";
import { PROBE_FORMAT, probeJsonSchema, probesRequests } from "./schemas.ts";

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
  /** Made by each start; the core calls the handlers and the other hooks only after it. */
  let set!: ProbeSet;
  return {
    name: "probes",
    requests: defineRequests(probesRequests, {
      probes: () => ({ probes: set.results(), skipped_files: listedSkipped(set.skippedFiles()) }),
      "probe-run": ({ name }) => set.runNow(name),
    }),
    start(ctx) {
      const dir = opts.dir ?? join(ctx.config.configDir, "probes.d");
      const s = (set = new ProbeSet(ctx, dir));
      s.load();
      if (opts.watch !== false) ctx.onDispose(watchDir(dir, () => s.load()));
      ctx.on("wake", () => s.wake());
    },
    // Kill runs in flight and wait for them, so that nothing outlives the agent's stop.
    stop: () => set.close(),
    reload: () => set.load(),
    status: () => set.status(),
  };
}

/** `probes.d` for tools (`config check|render`): checked and loaded exactly as the plugin loads it. */
export const probeFormat: DropinFormat = {
  dir: "probes.d",
  noun: "probe",
  check(raw) {
    const r = parseDropin(PROBE_FORMAT, raw);
    return r.ok ? undefined : r.message;
  },
  load(dir, log) {
    const r = loadProbes(dir, log);
    return { loaded: [...r.entries].map(([name, e]) => ({ name, file: e.file, value: e.value })), skipped: r.skipped, missing: r.missing };
  },
};

export const probesModule: PluginModule = {
  name: "probes",
  schemas: { probe: probeJsonSchema },
  dropins: { probe: probeFormat },
  create: ({ config }) => probesPlugin({ dir: join(config.configDir, "probes.d") }),
};
