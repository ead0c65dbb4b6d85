// One suite of request/answer cases, run in memory (agent.dispatch) and over a real unix socket.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { createAgent, type Agent } from "./agent.ts";
import { AgentError } from "./errors.ts";
import { memoryLogger } from "./log.ts";
import { defineRequest, type AgentPlugin } from "./plugin.ts";
import { RawClient, startTestAgent, type TestAgent } from "./testing.ts";

/** A plugin with one request of each kind the router must handle. */
export function fixturePlugin(): AgentPlugin {
  return {
    name: "fixture",
    requests: {
      "t.echo": defineRequest({
        params: Type.Object({ text: Type.String({ maxLength: 100 }), n: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }),
        result: Type.Object({ text: Type.String() }, { additionalProperties: false }),
        handle: ({ text }) => ({ text }),
      }),
      "t.fail": defineRequest({
        params: Type.Object({}),
        result: Type.Object({}),
        handle: () => {
          throw new AgentError("E_BUSY", "busy on purpose");
        },
      }),
      "t.crash": defineRequest({
        params: Type.Object({}),
        result: Type.Object({}),
        handle: () => {
          throw new Error("secret internal detail");
        },
      }),
      "t.bad-result": defineRequest({
        params: Type.Object({}),
        result: Type.Object({ n: Type.Integer() }, { additionalProperties: false }),
        handle: () => ({ n: "not a number" }) as never,
      }),
      "t.big": defineRequest({
        params: Type.Object({ bytes: Type.Integer() }, { additionalProperties: false }),
        result: Type.Object({ s: Type.String() }),
        handle: ({ bytes }) => ({ s: "x".repeat(bytes) }),
      }),
      "t.stream": defineRequest({
        params: Type.Object({ count: Type.Integer({ minimum: 0, maximum: 100 }) }, { additionalProperties: false }),
        result: Type.Object({ sent: Type.Integer() }),
        handle: ({ count }, ctx) => {
          for (let i = 0; i < count; i++) ctx.emit("tick", i);
          return { sent: count };
        },
      }),
    },
  };
}

type Case = { name: string; send: unknown; expect: Record<string, unknown> };

const CASES: Case[] = [
  { name: "ping", send: { type: "ping", id: 1 }, expect: { id: 1, type: "ping", ok: true, result: {} } },
  { name: "ping without id or params", send: { type: "ping" }, expect: { type: "ping", ok: true, result: {} } },
  { name: "string id", send: { type: "ping", id: "a-1" }, expect: { id: "a-1", ok: true } },
  { name: "echo", send: { type: "t.echo", id: 2, params: { text: "hé" } }, expect: { id: 2, ok: true, result: { text: "hé" } } },
  { name: "not an object", send: [1, 2], expect: { ok: false, error: { code: "E_BAD_FRAME" } } },
  { name: "a number", send: 42, expect: { ok: false, error: { code: "E_BAD_FRAME" } } },
  { name: "missing type", send: { id: 3 }, expect: { id: 3, ok: false, error: { code: "E_BAD_REQUEST" } } },
  { name: "type not a string", send: { type: 5, id: 4 }, expect: { id: 4, ok: false, error: { code: "E_BAD_REQUEST" } } },
  { name: "unknown envelope key", send: { type: "ping", id: 5, extra: 1 }, expect: { id: 5, ok: false, error: { code: "E_BAD_REQUEST", message: "unknown envelope key(s): extra" } } },
  { name: "params not an object", send: { type: "ping", id: 6, params: [] }, expect: { id: 6, ok: false, error: { code: "E_BAD_REQUEST" } } },
  { name: "unknown type", send: { type: "no-such", id: 7 }, expect: { id: 7, type: "no-such", ok: false, error: { code: "E_UNKNOWN_REQUEST" } } },
  { name: "params fail the schema", send: { type: "t.echo", id: 8, params: { text: 5 } }, expect: { id: 8, ok: false, error: { code: "E_INVALID_PARAMS" } } },
  { name: "unknown param", send: { type: "t.echo", id: 9, params: { text: "a", zz: 1 } }, expect: { id: 9, ok: false, error: { code: "E_INVALID_PARAMS" } } },
  { name: "no coercion of strings to numbers", send: { type: "t.echo", id: 10, params: { text: "a", n: "3" } }, expect: { ok: false, error: { code: "E_INVALID_PARAMS" } } },
  { name: "handler's AgentError", send: { type: "t.fail", id: 11 }, expect: { id: 11, ok: false, error: { code: "E_BUSY", message: "busy on purpose" } } },
  { name: "handler crash is E_INTERNAL with a generic message", send: { type: "t.crash", id: 12 }, expect: { id: 12, ok: false, error: { code: "E_INTERNAL", message: 'internal error in "t.crash"' } } },
  { name: "result failing its schema is E_INTERNAL", send: { type: "t.bad-result", id: 13 }, expect: { ok: false, error: { code: "E_INTERNAL" } } },
  { name: "negative id", send: { type: "ping", id: -4 }, expect: { id: -4, ok: true } },
  { name: "fractional id is a bad envelope", send: { type: "ping", id: 1.5 }, expect: { ok: false, error: { code: "E_BAD_REQUEST" } } },
];

describe("in memory (agent.dispatch)", () => {
  let agent: Agent;
  const log = memoryLogger();
  beforeAll(async () => {
    agent = createAgent({ plugins: [fixturePlugin()], log });
    await agent.start();
  });
  afterAll(() => agent.stop());
  for (const c of CASES) test(c.name, async () => expect(await agent.dispatch(c.send)).toMatchObject(c.expect));

  test("a crash's detail goes to the console, not the wire", async () => {
    const a = await agent.dispatch({ type: "t.crash" });
    expect(JSON.stringify(a)).not.toContain("secret");
    expect(log.lines.some((l) => l.includes("secret internal detail"))).toBe(true);
  });

  test("E_INVALID_PARAMS lists path and message", async () => {
    const a = (await agent.dispatch({ type: "t.echo", params: { text: 5 } })) as { error: { data: { path: string }[] } };
    expect(a.error.data[0]!.path).toBe("/text");
  });
});

describe("over a unix socket", () => {
  let t: TestAgent;
  let c: RawClient;
  beforeAll(async () => {
    t = await startTestAgent({ plugins: [fixturePlugin()] });
    c = await RawClient.connect(t.socket);
  });
  afterAll(async () => {
    c.close();
    await t.close();
  });
  for (const cs of CASES) test(cs.name, async () => expect(await c.request(cs.send)).toMatchObject(cs.expect));

  test("streaming events come before the final answer, with the id", async () => {
    c.send({ type: "t.stream", id: "s", params: { count: 3 } });
    const got = [await c.next(), await c.next(), await c.next(), await c.next()];
    expect(got.slice(0, 3)).toEqual([0, 1, 2].map((i) => ({ id: "s", type: "t.stream", event: "tick", data: i })));
    expect(got[3]).toMatchObject({ id: "s", ok: true, result: { sent: 3 } });
  });

  test("an answer over the cap becomes E_RESULT_TOO_LARGE and the connection goes on", async () => {
    expect(await c.request({ type: "t.big", id: 1, params: { bytes: 2 * 1024 * 1024 } })).toMatchObject({
      id: 1,
      ok: false,
      error: { code: "E_RESULT_TOO_LARGE" },
    });
    expect(await c.request({ type: "ping", id: 2 })).toMatchObject({ id: 2, ok: true });
  });
});
