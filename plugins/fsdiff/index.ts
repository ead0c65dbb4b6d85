// The fsdiff plugin module (placeholder until the plugin lands; see its issue).

import type { PluginModule } from "../../agent/plugin.ts";

export const fsdiffModule: PluginModule = {
  name: "fsdiff",
  create: () => null,
};
