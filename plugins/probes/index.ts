// The probes plugin module (placeholder until the plugin lands; see its issue).

import type { PluginModule } from "../../agent/plugin.ts";

export const probesModule: PluginModule = {
  name: "probes",
  create: () => null,
};
