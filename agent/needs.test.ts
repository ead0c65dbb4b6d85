// Start order from needs and after: stable order, coded errors for a missing need and for a circle.

import { describe, expect, test } from "bun:test";
import { createAgent } from "./agent.ts";
import { RegistrationError } from "./errors.ts";
import { memoryLogger } from "./log.ts";
import { startOrder, type Ordered } from "./needs.ts";
import type { AgentPlugin } from "./plugin.ts";

const names = (ps: Ordered[]) => startOrder(ps).map((p) => p.name);

describe("startOrder", () => {
  test("list order when nobody needs anything", () => {
    expect(names([{ name: "a" }, { name: "b" }, { name: "c" }])).toEqual(["a", "b", "c"]);
  });

  test("a plugin starts after what it needs and after what it starts after; the rest keep list order", () => {
    expect(names([{ name: "snapshot", needs: ["health"] }, { name: "probes" }, { name: "health" }])).toEqual(["probes", "health", "snapshot"]);
    expect(names([{ name: "c", after: ["b"] }, { name: "b", needs: ["a"] }, { name: "a" }, { name: "d" }])).toEqual(["a", "b", "c", "d"]);
  });

  test("`after` a plugin that is not loaded is no error", () => {
    expect(names([{ name: "snapshot", after: ["health"] }, { name: "x" }])).toEqual(["snapshot", "x"]);
  });

  test("a missing need is E_MISSING_NEED, naming both plugins and what is loaded", () => {
    const e = (() => {
      try {
        startOrder([{ name: "core" }, { name: "snapshot", needs: ["health"] }]);
      } catch (e) {
        return e;
      }
    })();
    expect(e).toBeInstanceOf(RegistrationError);
    expect((e as RegistrationError).code).toBe("E_MISSING_NEED");
    expect((e as Error).message).toBe('E_MISSING_NEED: plugin "snapshot" needs plugin "health", which is not loaded (loaded: core, snapshot)');
  });

  test("a circle is E_NEED_CYCLE naming it, through needs and after alike, and a plugin that needs itself", () => {
    expect(() => names([{ name: "x" }, { name: "a", needs: ["b"] }, { name: "b", after: ["c"] }, { name: "c", needs: ["a"] }])).toThrow(
      "E_NEED_CYCLE: plugins wait for each other in a circle: a -> b -> c -> a",
    );
    expect(() => names([{ name: "a", needs: ["a"] }])).toThrow("E_NEED_CYCLE: plugins wait for each other in a circle: a -> a");
  });
});

test("the agent starts plugins in that order, stops them in reverse, and refuses a missing need at creation", async () => {
  const ev: string[] = [];
  const p = (name: string, o: Partial<AgentPlugin> = {}): AgentPlugin => ({
    name,
    start: () => void ev.push(`start ${name}`),
    stop: () => void ev.push(`stop ${name}`),
    ...o,
  });
  const a = createAgent({ plugins: [p("snapshot", { needs: ["health"] }), p("health")], log: memoryLogger() });
  expect(a.plugins.map((x) => x.name)).toEqual(["core", "health", "snapshot"]);
  await a.start();
  await a.stop();
  expect(ev).toEqual(["start health", "start snapshot", "stop snapshot", "stop health"]);
  expect(() => createAgent({ plugins: [p("snapshot", { needs: ["health"] })], log: memoryLogger() })).toThrow("E_MISSING_NEED");
});
