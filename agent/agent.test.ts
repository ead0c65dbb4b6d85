// Plugin lifecycle tests: order, registration checks, disposers, services, events, drain, status.

import { describe, expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { createAgent } from "./agent.ts";
import { ManualClock } from "./clock.ts";
import { createLogger, memoryLogger } from "./log.ts";
import { defineRequest, type AgentPlugin, type PluginContext } from "./plugin.ts";
import { AgentError, RegistrationError } from "./errors.ts";
import { RawClient, startTestAgent, waitFor } from "./testing.ts";

function recorder(name: string, events: string[], extra: Partial<AgentPlugin> = {}): AgentPlugin {
  return {
    name,
    start: () => void events.push(`start ${name}`),
    stop: () => void events.push(`stop ${name}`),
    ...extra,
  };
}

describe("lifecycle", () => {
  test("plugins start in order and stop in reverse", async () => {
    const ev: string[] = [];
    const a = createAgent({ plugins: [recorder("a", ev), recorder("b", ev)], log: memoryLogger() });
    await a.start();
    await a.stop();
    expect(ev).toEqual(["start a", "start b", "stop b", "stop a"]);
  });

  test("duplicate plugin or request names fail at boot with a coded error", () => {
    const req = defineRequest({ params: Type.Object({}), result: Type.Object({}), handle: () => ({}) });
    expect(() => createAgent({ plugins: [{ name: "x" }, { name: "x" }] })).toThrow(RegistrationError);
    expect(() => createAgent({ plugins: [{ name: "x" }, { name: "y" }, { name: "core" }] })).toThrow("E_DUPLICATE_PLUGIN");
    expect(() =>
      createAgent({ plugins: [{ name: "x", requests: { "a.b": req } }, { name: "y", requests: { "a.b": req } }] }),
    ).toThrow("E_DUPLICATE_REQUEST");
    expect(() => createAgent({ plugins: [{ name: "x", requests: { ping: req } }] })).toThrow("already served by \"core\"");
    expect(() => createAgent({ plugins: [{ name: "x", requests: { "Bad Name": req } }] })).toThrow(
      'E_BAD_REQUEST_NAME: request name "Bad Name" of plugin "x" is not kebab-case',
    );
  });

  test("a service provided twice fails the second provider's start with E_DUPLICATE_SERVICE, naming it", async () => {
    const provider = (name: string): AgentPlugin => ({ name, start: (ctx) => ctx.provide("integrations", { list: () => [] }) });
    const a = createAgent({ plugins: [provider("one"), provider("two")], log: memoryLogger() });
    await expect(a.start()).rejects.toThrow('E_DUPLICATE_SERVICE: plugin "two" provides service "integrations", which another plugin provides already');
  });

  test("a plugin that fails to start stops the ones already started, and start rejects", async () => {
    const ev: string[] = [];
    const bad: AgentPlugin = {
      name: "bad",
      start() {
        throw new Error("cannot");
      },
    };
    const a = createAgent({ plugins: [recorder("a", ev), bad, recorder("c", ev)], log: memoryLogger() });
    await expect(a.start()).rejects.toThrow("cannot");
    expect(ev).toEqual(["start a", "stop a"]);
  });

  test("a plugin start that hangs times out", async () => {
    const clock = new ManualClock();
    const a = createAgent({
      plugins: [{ name: "slow", start: () => new Promise(() => {}) }],
      clock,
      log: memoryLogger(),
      pluginStartTimeoutMs: 1000,
    });
    const p = a.start();
    const caught = p.catch((e) => e);
    await clock.advance(1000);
    expect(String(await caught)).toContain("start of plugin slow took longer than 1000 ms");
  });

  test("schedules, listeners, services and disposers are released on stop", async () => {
    const clock = new ManualClock();
    let disposed = 0;
    let runs = 0;
    let ctxRef: PluginContext | undefined;
    const p: AgentPlugin = {
      name: "p",
      start(ctx) {
        ctxRef = ctx;
        ctx.every(1000, () => void runs++);
        ctx.onDispose(() => void disposed++);
        ctx.on("reload", () => {});
        ctx.provide("integrations", { list: () => [] });
      },
    };
    const a = createAgent({ plugins: [p], clock, log: memoryLogger() });
    await a.start();
    await clock.advance(2500);
    expect(runs).toBe(3);
    expect(ctxRef!.service("integrations")).toBeDefined();
    await a.stop();
    expect(disposed).toBe(1);
    expect(a.scheduler.size).toBe(0);
    expect(clock.pending()).toBe(0);
    expect(ctxRef!.service("integrations")).toBeUndefined();
    await clock.advance(5000);
    expect(runs).toBe(3);
  });

  test("events reach every listener; a throwing listener is logged, not fatal", async () => {
    const got: string[] = [];
    const log = memoryLogger();
    let ctx!: PluginContext;
    const a = createAgent({
      log,
      plugins: [
        { name: "l1", start: (c) => void c.on("wake", (p) => void got.push(`l1 ${p.reason}`)) },
        { name: "l2", start: (c) => void c.on("wake", () => { throw new Error("listener broke"); }) },
        { name: "l3", start: (c) => { ctx = c; c.on("wake", async () => void got.push("l3")); } },
      ],
    });
    await a.start();
    await ctx.emit("wake", { at: 0, reason: "wake" });
    expect(got.sort()).toEqual(["l1 wake", "l3"]);
    expect(log.lines.some((l) => l.includes("listener broke"))).toBe(true);
    await a.stop();
  });

  test("work marks count in status; requests marked work count while they run", async () => {
    let release!: () => void;
    const p: AgentPlugin = {
      name: "w",
      requests: {
        "w.run": defineRequest({
          params: Type.Object({}),
          result: Type.Object({}),
          work: true,
          handle: () => new Promise((r) => (release = () => r({}))),
        }),
      },
    };
    const t = await startTestAgent({ plugins: [p] });
    const c = await RawClient.connect(t.socket);
    c.send({ type: "w.run", id: 1 });
    await waitFor(() => t.agent.workInFlight() === 1);
    const s = (await t.agent.dispatch({ type: "status" })) as { result: { work_in_flight: number } };
    expect(s.result.work_in_flight).toBe(1);
    release();
    expect(await c.next()).toMatchObject({ id: 1, ok: true });
    expect(t.agent.workInFlight()).toBe(0);
    c.close();
    await t.close();
  });

  test("stop lets in-flight requests finish before plugins stop", async () => {
    const ev: string[] = [];
    let release!: () => void;
    const p: AgentPlugin = {
      name: "slow",
      stop: () => void ev.push("plugin stopped"),
      requests: {
        "s.run": defineRequest({
          params: Type.Object({}),
          result: Type.Object({}),
          handle: () => new Promise((r) => (release = () => (ev.push("request done"), r({})))),
        }),
      },
    };
    const t = await startTestAgent({ plugins: [p] });
    const c = await RawClient.connect(t.socket);
    c.send({ type: "s.run", id: 1 });
    await waitFor(() => release !== undefined);
    const stopping = t.agent.stop({ drainMs: 10_000 });
    await waitFor(() => t.agent.listeners.length === 0);
    release();
    expect(await c.next()).toMatchObject({ id: 1, ok: true });
    await stopping;
    expect(ev).toEqual(["request done", "plugin stopped"]);
    await t.close();
  });
});

describe("built-in requests", () => {
  test("hello lists requests, plugins, build and the frame cap", async () => {
    const a = createAgent({ plugins: [{ name: "x", requests: { "x.do": defineRequest({ params: Type.Object({}), result: Type.Object({}), handle: () => ({}) }) } }], log: memoryLogger(), config: { build: "prod", version: "9.9.9" } });
    await a.start();
    const h = (await a.dispatch({ type: "hello" })) as { result: Record<string, unknown> };
    expect(h.result).toEqual({
      agent: "mvm-guest-agent",
      version: "9.9.9",
      protocol: 1,
      build: "prod",
      requests: ["describe", "hello", "ping", "status", "x.do"],
      plugins: ["x"],
      max_frame_bytes: 1048576,
    });
    await a.stop();
  });

  test("status gathers one section per plugin and survives a broken one", async () => {
    const clock = new ManualClock(Date.parse("2026-01-01T00:00:00Z"));
    const log = memoryLogger();
    const a = createAgent({
      clock,
      log,
      plugins: [
        { name: "good", status: () => ({ fine: true }) },
        { name: "broken", status: () => { throw new Error("nope"); } },
        { name: "silent" },
      ],
    });
    await a.start();
    await clock.advance(90_000);
    const s = (await a.dispatch({ type: "status" })) as { result: Record<string, any> };
    expect(s.result.plugins).toEqual({ good: { fine: true }, broken: { error: "status unavailable" } });
    expect(s.result.state).toBe("running");
    expect(s.result.uptime_secs).toBe(90);
    expect(s.result.started_at).toBe("2026-01-01T00:00:00.000Z");
    await a.stop();
  });
});

describe("request counters", () => {
  test("status.requests counts wire requests per served type; a hostile client's made-up types are one key", async () => {
    const lines: string[] = [];
    const a = createAgent({
      plugins: [
        {
          name: "x",
          requests: {
            "x.ok": defineRequest({ params: Type.Object({}), result: Type.Object({}), handle: () => ({}) }),
            "x.fail": defineRequest({ params: Type.Object({}), result: Type.Object({}), handle: () => { throw new AgentError("E_BUSY", "busy"); } }),
          },
        },
      ],
      log: createLogger({ format: "json", level: "debug", sink: (l) => lines.push(l) }),
    });
    await a.start();
    await a.dispatch({ type: "x.ok" });
    await a.dispatch({ type: "x.ok", id: 2 });
    await a.dispatch({ type: "x.fail" });
    await a.dispatch({ type: "x.ok", params: 5 });
    for (let i = 0; i < 500; i++) await a.dispatch({ type: `made-up-${i}\u001b[31m` });
    await a.dispatch({ nonsense: true });
    const s = (await a.dispatch({ type: "status" })) as { result: { requests: Record<string, { served: number; failed: number }> } };
    expect(s.result.requests).toEqual({ "x.ok": { served: 3, failed: 1 }, "x.fail": { served: 1, failed: 1 }, "(unknown)": { served: 501, failed: 501 } });
    // In-process calls (a plugin's ctx.call) are not wire requests.
    await a.call("x.ok");
    expect(((await a.dispatch({ type: "status" })) as typeof s).result.requests["x.ok"]).toEqual({ served: 3, failed: 1 });
    // Debug lines carry the request type and the duration as JSON keys.
    const req = lines.map((l) => JSON.parse(l)).find((l) => l.type === "x.fail");
    expect(req).toMatchObject({ level: "debug", component: "router", type: "x.fail", code: "E_BUSY", duration_ms: expect.any(Number) });
    await a.stop();
  });
});

describe("stop waits for schedules", () => {
  test("a run in flight is aborted and has ended when stop resolves", async () => {
    const clock = new ManualClock();
    let ended = false;
    const p: AgentPlugin = {
      name: "long",
      start(ctx) {
        ctx.every(1000, (signal) =>
          new Promise<void>((resolve) =>
            signal.addEventListener("abort", () =>
              setImmediate(() => {
                ended = true;
                resolve();
              }),
            ),
          ),
        );
      },
    };
    const a = createAgent({ plugins: [p], clock, log: memoryLogger() });
    await a.start();
    await clock.advance(0);
    await a.stop();
    expect(ended).toBe(true);
  });
});
