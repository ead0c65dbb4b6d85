// The snapshot plugin module (placeholder until the plugin lands; see its issue).

import type { PluginModule } from "../../agent/plugin.ts";

export const snapshotModule: PluginModule = {
  name: "snapshot",
  create: () => null,
};
