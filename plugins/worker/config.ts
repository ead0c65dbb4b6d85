// Worker settings: the agent.json `worker` section (zod), overridden by the --worker-* flags.

import { join } from "node:path";
import { parseSection, zodIssuesText } from "../../agent/config.ts";
import type { Logger } from "../../agent/log.ts";
import type { FlagSpec, FlagValues } from "../../agent/plugin.ts";
import { WorkerConfig } from "./schemas.ts";

/** Flag name -> the agent.json key it overrides. */
export const FLAG_KEYS = {
  "worker-busy-threshold": "busy_threshold",
  "worker-idle-after-secs": "idle_after_secs",
  "worker-sample-interval-secs": "sample_interval_secs",
  "loadavg-path": "loadavg_path",
} as const satisfies Record<string, keyof WorkerConfig>;

export const WORKER_FLAGS: Record<keyof typeof FLAG_KEYS, FlagSpec> = {
  "worker-busy-threshold": { type: "number", description: "Worker is busy when the 1-minute load is at least this (agent.json worker.busy_threshold; default 0.1)" },
  "worker-idle-after-secs": { type: "number", description: "Worker goes back to idle only after this many seconds below the threshold (worker.idle_after_secs; default 0)" },
  "worker-sample-interval-secs": { type: "number", description: "Seconds between load samples (worker.sample_interval_secs; default 5)" },
  "loadavg-path": { type: "string", description: "File to read the load average from (worker.loadavg_path; default /proc/loadavg)" },
};

/**
 * The flags that were given, checked against the same schema as the file. Throws an Error naming
 * the flag (the agent then exits 2 with it).
 */
export function flagOverrides(flags: FlagValues): Partial<WorkerConfig> {
  const out: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(FLAG_KEYS)) {
    const v = flags[flag];
    if (v === undefined) continue;
    const r = WorkerConfig.shape[key].safeParse(v);
    if (!r.success) throw new Error(`--${flag}: ${zodIssuesText(r.error.issues)}, got ${JSON.stringify(v)}`);
    out[key] = r.data;
  }
  return out as Partial<WorkerConfig>;
}

/** The original agent kept these two keys at the top of agent.json; read them when there is no `worker` section. */
export const LEGACY_KEYS = ["busy_threshold", "sample_interval_secs"] as const;

/**
 * Settings from the parsed agent.json and the flag overrides (flags win). A bad `worker` section
 * is one console line naming the file and the field, and defaults for the section.
 */
export function resolveWorkerConfig(file: Readonly<Record<string, unknown>>, overrides: Partial<WorkerConfig>, configDir: string, log: Logger): WorkerConfig {
  const where = `${join(configDir, "agent.json")}: worker`;
  let section = file.worker;
  if (section === undefined && LEGACY_KEYS.some((k) => k in file)) {
    section = Object.fromEntries(LEGACY_KEYS.filter((k) => k in file).map((k) => [k, file[k]]));
    log.info(`${join(configDir, "agent.json")}: top-level ${Object.keys(section as object).join(", ")} read as worker settings (the original agent's keys)`);
  }
  if (section !== undefined && (section === null || typeof section !== "object" || Array.isArray(section))) {
    log.warn(`${where}: must be an object; using defaults for this section`);
    section = {};
  }
  return { ...parseSection(WorkerConfig, section, where, log), ...overrides };
}
