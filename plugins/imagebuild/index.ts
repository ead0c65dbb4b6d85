// The image-builder tool module: `mvm-guest-agent config render|check` (no runtime plugin).

import type { PluginModule } from "../../agent/plugin.ts";
import { configCommand } from "./cli.ts";

export const imageConfigModule: PluginModule = {
  name: "image-config",
  commands: {
    config: {
      description: "config render --from SPEC --out DIR | config check DIR: drop-in files for images",
      run: (args, env) => configCommand(args, env),
    },
  },
  create: () => null,
};
