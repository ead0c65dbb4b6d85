// The core's describe request: every served request's declaration as JSON, the filter, and hostile params.

import { describe, expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { createAgent } from "./agent.ts";
import { describeRequest, jsonSchema } from "./describe.ts";
import { memoryLogger } from "./log.ts";
import { defineRequests, type RequestTable } from "./plugin.ts";
import { coreRequests, DescribeResult } from "./wire.ts";
import { compiled } from "./router.ts";

const Wait = Type.Object({ wait_secs: Type.Optional(Type.Integer({ minimum: 1, maximum: 600, default: 20 })) }, { additionalProperties: false });
const table = {
  "acme.wait": { params: Wait, result: Type.Object({ waited: Type.Number() }), description: "Waits.", deadlineParam: "wait_secs" },
  "acme.tail": {
    params: Type.Object({}),
    result: Type.Null(),
    description: "Streams lines.",
    events: { line: Type.String() },
    timeoutSecs: 90,
    work: true,
  },
} satisfies RequestTable;

function agent() {
  return createAgent({
    plugins: [{ name: "acme", requests: defineRequests(table, { "acme.wait": () => ({ waited: 0 }), "acme.tail": () => null }) }],
    log: memoryLogger(),
    config: { build: "dev", version: "1.2.3" },
  });
}

describe("describe", () => {
  test("lists every served request, sorted, with its plugin, description, JSON Schemas, events and deadline", async () => {
    const a = agent();
    await a.start();
    const r = await a.call("describe");
    expect(compiled(DescribeResult).Check(r)).toBe(true);
    expect(r).toMatchObject({ agent: "mvm-guest-agent", version: "1.2.3", protocol: 1, build: "dev" });
    expect(r.requests.map((x) => x.type)).toEqual(["acme.tail", "acme.wait", "describe", "hello", "ping", "status"]);
    const byType = Object.fromEntries(r.requests.map((x) => [x.type, x]));
    expect(byType["acme.wait"]).toEqual({
      type: "acme.wait",
      plugin: "acme",
      description: "Waits.",
      params: {
        type: "object",
        additionalProperties: false,
        properties: { wait_secs: { type: "integer", minimum: 1, maximum: 600, default: 20 } },
      },
      result: { type: "object", properties: { waited: { type: "number" } }, required: ["waited"] },
      deadline_param: "wait_secs",
      deadline_secs: 20,
    });
    expect(byType["acme.tail"]).toMatchObject({ plugin: "acme", events: { line: { type: "string" } }, timeout_secs: 90, deadline_secs: 90, work: true });
    expect(byType["acme.tail"]!.deadline_param).toBeUndefined();
    expect(byType.status).toMatchObject({ plugin: "core", description: coreRequests.status.description, params: jsonSchema(coreRequests.status.params) });
    expect(byType.ping!.deadline_secs).toBeUndefined();
    // JSON all the way down: nothing TypeBox keeps under symbols, nothing that does not survive a round trip.
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    await a.stop();
  });

  test("types filters the answer; names it does not serve are left out", async () => {
    const a = agent();
    await a.start();
    const r = await a.call("describe", { types: ["acme.wait", "no.such", "ping"] });
    expect(r.requests.map((x) => x.type)).toEqual(["acme.wait", "ping"]);
    expect((await a.call("describe", { types: [] })).requests).toEqual([]);
    await a.stop();
  });

  test("hostile params are E_INVALID_PARAMS, and hello keeps its short list", async () => {
    const a = agent();
    await a.start();
    for (const params of [{ types: "ping" }, { types: [1] }, { types: ["../x"] }, { types: Array.from({ length: 257 }, () => "ping") }, { type: ["ping"] }, { types: ["\u001b[31m"] }])
      expect(await a.dispatch({ type: "describe", id: 1, params })).toMatchObject({ ok: false, error: { code: "E_INVALID_PARAMS" } });
    const h = (await a.dispatch({ type: "hello" })) as { result: { requests: unknown[] } };
    expect(h.result.requests).toEqual(["acme.tail", "acme.wait", "describe", "hello", "ping", "status"]);
    await a.stop();
  });

  test("a schema that cannot be JSON is marked, not fatal", () => {
    const odd = { ...Type.Object({}), default: 10n } as never;
    expect(jsonSchema(odd)).toEqual({ "x-unrepresentable": true });
    expect(describeRequest("x.y", "x", { params: odd, result: Type.Null() })).toMatchObject({ description: "", params: { "x-unrepresentable": true }, result: { type: "null" } });
  });
});
