// The worker plugin module (placeholder until the plugin lands; see its issue).

import type { PluginModule } from "../../agent/plugin.ts";

export const workerModule: PluginModule = {
  name: "worker",
  create: () => null,
};
