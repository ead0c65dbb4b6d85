// The contract every bundled plugin keeps (the public testkit's checkPluginContract, run for each), and what only
// the bundled ones owe: every request is its schemas.ts declaration, listed in plugins/requests.ts.

import { describe, expect, test } from "bun:test";
import { parseFlags } from "../agent/flags.ts";
import type { AgentConfig, AgentPlugin, PluginModule } from "../agent/plugin.ts";
import { tempDir } from "../agent/testing.ts";
import { builtinModules } from "./index.ts";
import { BUNDLED_REQUESTS } from "./requests.ts";
import { checkPluginContract } from "./testing.ts";

function create(m: PluginModule, configDir: string): AgentPlugin | null {
  const { values } = parseFlags([], m.flags ?? {});
  const config: AgentConfig = { configDir, build: "dev", version: "0.0.0", maxFrameBytes: 1 << 20, file: {} };
  return m.create({ flags: values, config });
}

const modules = builtinModules();

/** Requests the host need not know: the dev-marker plugin exists only for the build test. */
const UNLISTED = new Set(["dev.marker"]);

test("module and plugin names are unique, and flags do not collide", () => {
  const names = modules.map((m) => m.name);
  expect(new Set(names).size).toBe(names.length);
  const flags = modules.flatMap((m) => Object.keys(m.flags ?? {}));
  expect(new Set(flags).size).toBe(flags.length);
});

for (const m of modules) {
  checkPluginContract(m);

  describe(`plugin ${m.name} (bundled)`, () => {
    test("every request is its schemas.ts declaration, listed in plugins/requests.ts: nothing restated", () => {
      const d = tempDir();
      const p = create(m, d.path);
      d.cleanup();
      for (const [type, spec] of Object.entries(p?.requests ?? {})) {
        if (UNLISTED.has(type)) continue;
        const decl = (BUNDLED_REQUESTS as Record<string, (typeof BUNDLED_REQUESTS)[keyof typeof BUNDLED_REQUESTS]>)[type];
        expect(decl, `${type} is not in plugins/requests.ts`).toBeDefined();
        const { handle, ...declared } = spec;
        expect(typeof handle).toBe("function");
        expect(declared).toEqual(decl!);
        expect(spec.params).toBe(decl!.params);
        expect(spec.result).toBe(decl!.result);
      }
    });
  });
}
