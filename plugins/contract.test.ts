// The contract every bundled plugin keeps: unique names, schemas present, start/stop idempotent, nothing left behind.

import { describe, expect, test } from "bun:test";
import { Kind } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { createAgent } from "../agent/agent.ts";
import { ManualClock } from "../agent/clock.ts";
import { parseFlags } from "../agent/flags.ts";
import { memoryLogger } from "../agent/log.ts";
import type { AgentConfig, AgentPlugin, PluginModule } from "../agent/plugin.ts";
import { tempDir } from "../agent/testing.ts";
import { builtinModules } from "./index.ts";
import { BUNDLED_REQUESTS } from "./requests.ts";

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

test("request names are unique across plugins", () => {
  const d = tempDir();
  const plugins = modules.map((m) => create(m, d.path)).filter((p): p is AgentPlugin => p !== null);
  expect(() => createAgent({ plugins, log: memoryLogger() })).not.toThrow();
  d.cleanup();
});

for (const m of modules) {
  describe(`plugin ${m.name}`, () => {
    test("every request has TypeBox params and result schemas and a description", () => {
      const d = tempDir();
      const p = create(m, d.path);
      d.cleanup();
      if (!p) return; // a placeholder or a plugin off by default has no requests to check
      expect(p.name).toBe(m.name);
      for (const [type, spec] of Object.entries(p.requests ?? {})) {
        expect(type).toMatch(/^[a-z0-9][a-z0-9._-]*$/);
        expect(spec.params[Kind]).toBeDefined();
        expect(spec.result[Kind]).toBeDefined();
        expect(typeof spec.description === "string" && spec.description.length > 0).toBe(true);
        // The router compiles checkers on first use; make sure each one compiles at all.
        expect(() => TypeCompiler.Compile(spec.params)).not.toThrow();
        expect(() => TypeCompiler.Compile(spec.result)).not.toThrow();
      }
    });

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

    test("starts and stops cleanly, twice stop is harmless, and no timer or schedule is left", async () => {
      const d = tempDir();
      const p = create(m, d.path);
      if (!p) {
        d.cleanup();
        return;
      }
      const clock = new ManualClock();
      const log = memoryLogger();
      const agent = createAgent({ plugins: [p], clock, log, config: { configDir: d.path } });
      await agent.start();
      await clock.advance(1000);
      await agent.stop({ drainMs: 100 });
      await agent.stop({ drainMs: 100 });
      expect(agent.scheduler.size).toBe(0);
      expect(clock.pending()).toBe(0);
      d.cleanup();
    });
  });
}
