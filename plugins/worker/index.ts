// The worker plugin module: its flags (--worker-*, --loadavg-path) and factory.

import type { PluginModule } from "../../agent/plugin.ts";
import { flagOverrides, WORKER_FLAGS } from "./config.ts";
import { workerPlugin } from "./worker.ts";

export { workerPlugin } from "./worker.ts";

export const workerModule: PluginModule = {
  name: "worker",
  flags: WORKER_FLAGS,
  create: ({ flags }) => workerPlugin({ overrides: flagOverrides(flags) }),
};
