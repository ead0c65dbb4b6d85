// The image-builder tool module: `mvm-guest-agent config render|check` (no runtime plugin).

import type { PluginModule } from "../../agent/plugin.ts";
import { configCommand } from "./cli.ts";

export const imageConfigModule: PluginModule = {
  name: "image-config",
  commands: {
    config: {
      description: "config render --from SPEC --out DIR | config check DIR: drop-in files for images",
      run: (args) =>
        configCommand(args, {
          stdout: (t) => process.stdout.write(t + "\n"),
          stderr: (t) => process.stderr.write(t + "\n"),
        }),
    },
  },
  create: () => null,
};
