// The snapshot plugin module: its flags, and the factory main calls.

import { FlagError } from "../../agent/flags.ts";
import type { FlagValues, PluginModule } from "../../agent/plugin.ts";
import { snapshotPlugin, type SnapshotOptions } from "./snapshot.ts";
import { DEFAULT_DROP_CACHES_PATH } from "./sys.ts";

export { snapshotPlugin, type SnapshotOptions } from "./snapshot.ts";

/** Turn this module's parsed flags into plugin options; bad values throw FlagError naming the flag. */
export function snapshotOptionsFromFlags(flags: FlagValues): SnapshotOptions {
  const secs = flags["resume-after-secs"] ?? 600;
  if (typeof secs !== "number" || !Number.isFinite(secs) || secs < 0 || secs > 365 * 86400)
    throw new FlagError(`--resume-after-secs: expected seconds from 0 (never) to 31536000, got ${JSON.stringify(secs)}`);
  const path = flags["drop-caches-path"] ?? DEFAULT_DROP_CACHES_PATH;
  if (typeof path !== "string" || path === "") throw new FlagError(`--drop-caches-path: expected a file path, got ${JSON.stringify(path)}`);
  const setClock = flags["set-clock"];
  return { resumeAfterSecs: secs, dropCachesPath: path, ...(typeof setClock === "boolean" ? { setClock } : {}) };
}

export const snapshotModule: PluginModule = {
  name: "snapshot",
  flags: {
    "resume-after-secs": {
      type: "number",
      description: "After sleep-prep, resume on our own if no wake comes within this much guest run time (0: never)",
      default: 600,
    },
    "drop-caches-path": {
      type: "string",
      description: "File sleep-prep writes 3 to, to drop the page cache",
      default: DEFAULT_DROP_CACHES_PATH,
    },
    "set-clock": {
      type: "boolean",
      description:
        "On wake, set the wall clock to the host's wall_clock (needs CAP_SYS_TIME). Default: only when serving a vsock or serial listener (in a VM), never with unix sockets alone (a container or a host); --set-clock / --no-set-clock force it",
    },
  },
  create: ({ flags }) => snapshotPlugin(snapshotOptionsFromFlags(flags)),
};
