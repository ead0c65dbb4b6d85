// The health plugin module (placeholder until the plugin lands; see its issue).

import type { PluginModule } from "../../agent/plugin.ts";

export const healthModule: PluginModule = {
  name: "health",
  create: () => null,
};
