// The plugin modules bundled into the agent. Dev-only ones sit behind a build-time constant so that
// `bun build --define process.env.MVM_BUILD='"prod"'` removes them by dead-code elimination.

import type { PluginModule } from "../agent/plugin.ts";
import { devMarkerModule } from "./dev-marker/index.ts";
import { execModule } from "./exec/index.ts";
import { fsdiffModule } from "./fsdiff/index.ts";
import { healthModule } from "./health/index.ts";
import { imageConfigModule } from "./imagebuild/index.ts";
import { mvmCompatModule } from "./mvm-compat/index.ts";
import { probesModule } from "./probes/index.ts";
import { snapshotModule } from "./snapshot/index.ts";
import { workerModule } from "./worker/index.ts";

/** "prod" in production binaries (a --define); "dev" when run from source or in the dev binary. */
export const BUILD: "prod" | "dev" = process.env.MVM_BUILD === "prod" ? "prod" : "dev";

/** Every bundled plugin module, in start order (health before snapshot, which reads it). */
export function builtinModules(): PluginModule[] {
  const modules: PluginModule[] = [healthModule, probesModule, workerModule, snapshotModule, fsdiffModule, mvmCompatModule, imageConfigModule];
  if (process.env.MVM_BUILD !== "prod") {
    modules.push(execModule, devMarkerModule);
  } else {
    // Production binaries accept --no-exec and ignore it, so one start script serves dev and prod images.
    modules.push({ name: "exec", flags: { "no-exec": { type: "boolean", description: "Accepted for dev/prod parity; exec is not in this build" } }, create: () => null });
  }
  return modules;
}
