// The plugin host: each handler gets its plugin's context, the core refuses requests to a plugin not running,
// and the agent's state word is what a plugin set.

import { describe, expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { createAgent } from "./agent.ts";
import { memoryLogger } from "./log.ts";
import { defineRequest, type AgentPlugin, type PluginContext } from "./plugin.ts";
import { listen } from "./server.ts";
import { RawClient, tempDir } from "./testing.ts";

describe("handlers get their plugin", () => {
  const Empty = Type.Object({}, { additionalProperties: false });
  const Named = Type.Object({ name: Type.String(), log: Type.Boolean() }, { additionalProperties: false });

  test("a handler's context carries its plugin's context and logger, the same one start got", async () => {
    const log = memoryLogger();
    let started: PluginContext | undefined;
    const p: AgentPlugin = {
      name: "acme",
      requests: {
        "acme.who": defineRequest({
          params: Empty,
          result: Named,
          handle: (_p, req) => {
            req.log.info("asked");
            return { name: req.plugin.name, log: req.plugin === started };
          },
        }),
      },
      start: (ctx) => void (started = ctx),
    };
    const a = createAgent({ plugins: [p], log });
    await a.start();
    expect(await a.call("acme.who", {})).toEqual({ name: "acme", log: true });
    expect(log.lines.some((l) => /\bacme\b.*asked$/.test(l))).toBe(true);
    await a.stop();
  });

  test("before its plugin starts and after it stops, a request is answered E_UNAVAILABLE by the core", async () => {
    const gate = Promise.withResolvers<void>();
    let served = 0;
    const slow: AgentPlugin = { name: "slow", start: () => gate.promise };
    const late: AgentPlugin = {
      name: "late",
      requests: { "late.do": defineRequest({ params: Empty, result: Empty, handle: () => (served++, {}) }) },
    };
    const a = createAgent({ plugins: [slow, late], log: memoryLogger() });
    const unavailable = { ok: false, error: { code: "E_UNAVAILABLE", message: 'the late plugin is not running' } };
    expect(await a.dispatch({ type: "late.do" })).toMatchObject(unavailable);
    const starting = a.start();
    // "slow" is starting: "late" has not started yet.
    expect(await a.dispatch({ type: "late.do" })).toMatchObject(unavailable);
    gate.resolve();
    await starting;
    expect(await a.dispatch({ type: "late.do" })).toMatchObject({ ok: true });
    await a.stop();
    expect(await a.dispatch({ type: "late.do" })).toMatchObject(unavailable);
    expect(served).toBe(1);
  });

  test("a dialect frame while its plugin is not running gets the dialect's refusal, or the connection is closed", async () => {
    const dialect = (name: string, refuse?: (m: string) => unknown): AgentPlugin => ({
      name,
      dialects: [{ name, matches: (b) => b === name, handle: async (_b, io) => ({ body: `${io.plugin.name} ok` }), ...(refuse ? { refuse } : {}) }],
    });
    const d = tempDir();
    const a = createAgent({ plugins: [dialect("polite", (m) => ({ Error: m })), dialect("curt")], log: memoryLogger() });
    // Listening before start (a custom main may): nothing is served until the plugins run.
    await listen(a, `unix:${d.path}/a.sock`);
    const early = await RawClient.connect(`${d.path}/a.sock`);
    expect(await early.request("polite")).toEqual({ Error: "the polite plugin is not running" });
    early.send("curt");
    await early.waitClosed();
    await a.start();
    const c = await RawClient.connect(`${d.path}/a.sock`);
    expect(await c.request("polite")).toBe("polite ok");
    expect(await c.request("curt")).toBe("curt ok");
    c.close();
    await a.stop();
    d.cleanup();
  });
});

test("status.state is the word a plugin set (running by default); a word that would break the wire is refused", async () => {
  let c: PluginContext | undefined;
  const a = createAgent({ plugins: [{ name: "holder", start: (ctx) => void (c = ctx) }], log: memoryLogger() });
  await a.start();
  expect((await a.call("status")).state).toBe("running");
  c!.setAgentState("draining");
  expect(c!.agentState).toBe("draining");
  expect((await a.call("status")).state).toBe("draining");
  for (const bad of ["", "Sleeping", "x".repeat(33), "a b", "\u001b[31m"]) expect(() => c!.setAgentState(bad)).toThrow(TypeError);
  expect(a.state).toBe("draining");
  c!.setAgentState("running");
  expect((await a.call("status")).state).toBe("running");
  await a.stop();
});
