// The exec plugin module (placeholder until the plugin lands; see its issue).

import type { PluginModule } from "../../agent/plugin.ts";

export const execModule: PluginModule = {
  name: "exec",
  devOnly: true,
  create: () => null,
};
