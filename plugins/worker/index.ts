// The worker plugin module: its flags (--worker-*, --loadavg-path) and factory.

import type { PluginModule } from "../../agent/plugin.ts";
import { flagOverrides, LEGACY_KEYS, WORKER_FLAGS } from "./config.ts";
import { WorkerConfig } from "./schemas.ts";
import { workerPlugin } from "./worker.ts";

export { workerPlugin } from "./worker.ts";

export const workerModule: PluginModule = {
  name: "worker",
  flags: WORKER_FLAGS,
  configSections: { worker: WorkerConfig },
  configKeys: LEGACY_KEYS,
  create: ({ flags }) => workerPlugin({ overrides: flagOverrides(flags) }),
};
