// The mvm-compat plugin module (placeholder until the plugin lands; see its issue).

import type { PluginModule } from "../../agent/plugin.ts";

export const mvmCompatModule: PluginModule = {
  name: "mvm-compat",
  create: () => null,
};
