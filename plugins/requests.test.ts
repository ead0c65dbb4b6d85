// The bundled request table: what the host reads (deadlines, schemas), and calls typed from the AgentRequests registry.

import { expect, test } from "bun:test";
import { deadlineSecs, type PluginContext } from "../agent/plugin.ts";
import { BUNDLED_REQUESTS, bundledRequest } from "./requests.ts";

test("deadlines come from each request's own declaration, never from a list of names", () => {
  expect(deadlineSecs(BUNDLED_REQUESTS["sleep-prep"], {})).toBe(30);
  expect(deadlineSecs(BUNDLED_REQUESTS["sleep-prep"], { drain_timeout_secs: 5 })).toBe(5);
  expect(deadlineSecs(BUNDLED_REQUESTS["sleep-prep"], { drain_timeout_secs: 99_999 })).toBe(3600);
  expect(deadlineSecs(BUNDLED_REQUESTS.exec, {})).toBe(60);
  expect(deadlineSecs(BUNDLED_REQUESTS["fs-diff"], {})).toBe(300);
  expect(deadlineSecs(BUNDLED_REQUESTS.ping, {})).toBeUndefined();
  expect(Object.keys(BUNDLED_REQUESTS.exec.events ?? {})).toEqual(["stdout", "stderr"]);
});

test("bundledRequest finds declared names only (no prototype keys)", () => {
  expect(bundledRequest("health")?.description).toContain("integration");
  for (const name of ["nope", "constructor", "__proto__", "toString"]) expect(bundledRequest(name)).toBeUndefined();
});

// Type-level checks (tsc --noEmit runs over tests): never called, only compiled.
async function typedCalls(ctx: PluginContext): Promise<void> {
  const sleep = await ctx.call("sleep-prep", { drain_timeout_secs: 10 });
  const ready: boolean = sleep.ready;
  const health = await ctx.call("health");
  const names: string[] = health.integrations.map((i) => i.name);
  const custom: unknown = await ctx.call("acme.flush", { anything: true });
  // @ts-expect-error a known request's params are checked
  await ctx.call("sleep-prep", { drain_timeout_secs: "10" });
  // @ts-expect-error a known request's unknown param is refused
  await ctx.call("wake", { wall: "now" });
  // @ts-expect-error a required param cannot be left out
  await ctx.call("health-check");
  void [ready, names, custom];
}
void typedCalls;
