// The health plugin module: its flag, its file format's JSON Schema, and the factory main calls.

import { intFlag } from "../../agent/flags.ts";
import type { DropinFormat, PluginModule } from "../../agent/plugin.ts";
import { healthPlugin } from "./health.ts";
import { checkIntegration, loadIntegrations } from "./loader.ts";
import { integrationJsonSchema } from "./schemas.ts";

export { healthPlugin, type HealthOptions } from "./health.ts";

/** `integrations.d` for tools (`config check|render`): checked and loaded exactly as the plugin loads it. */
export const integrationFormat: DropinFormat = {
  dir: "integrations.d",
  noun: "integration",
  check: checkIntegration,
  load(dir) {
    const r = loadIntegrations(dir);
    const loaded = [...r.loaded.values()].map((l) => ({
      name: l.spec.name,
      file: l.file,
      value: l.spec,
      ...(l.spec.health_cmd ? {} : { note: "no health_cmd: unchecked" }),
    }));
    return { loaded, skipped: r.skipped, missing: r.missing };
  },
};

/** Health checks of `<config-dir>/integrations.d/*.json`; requests `health` and `health-check`. */
export const healthModule: PluginModule = {
  name: "health",
  flags: {
    "max-concurrent-checks": {
      type: "number",
      description: "Health checks running at once, over all integrations",
      default: 8,
    },
  },
  schemas: { integration: integrationJsonSchema },
  dropins: { integration: integrationFormat },
  create: ({ flags, config }) =>
    healthPlugin({
      configDir: config.configDir,
      // Absent when a custom main builds the module without parsing flags: the flag's default.
      maxConcurrentChecks: flags["max-concurrent-checks"] === undefined ? 8 : intFlag(flags, "max-concurrent-checks", 1, 1024),
    }),
};
