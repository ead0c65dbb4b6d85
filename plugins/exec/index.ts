// The exec plugin module: dev builds only (production builds drop it at bundle time); --no-exec turns it off.

import type { PluginModule } from "../../agent/plugin.ts";
import { execPlugin } from "./exec.ts";

export { EXEC_MARKER, execPlugin } from "./exec.ts";

/**
 * `exec` for development guests. `devOnly`: plugins/index.ts lists it behind the build constant, so
 * the production binary does not contain it; `--no-exec` leaves it out of a dev agent at run time.
 * @example mvm-guest-agent-dev --listen unix:/tmp/a.sock --no-exec
 */
export const execModule: PluginModule = {
  name: "exec",
  devOnly: true,
  flags: {
    "no-exec": { type: "boolean", description: "Turn off the exec request (dev builds; production builds never have it)", default: false },
  },
  create: ({ flags }) => (flags["no-exec"] === true ? null : execPlugin()),
};
