// GET /api/vms/:name/openapi.json against real agents: valid OpenAPI 3.1 (swagger-parser), a typed path per request
// (custom ones included) that really is the call route, behind the token; older and hostile agents.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import SwaggerParser from "@apidevtools/swagger-parser";
import { Type } from "@sinclair/typebox";
import { describeRequest, jsonSchema } from "../../agent/describe.ts";
import { defineRequests, type RequestTable } from "../../agent/plugin.ts";
import { createTestAgent, startTestAgent, tempDir, type TestAgent } from "../../agent/testing.ts";
import { builtinModules } from "../../plugins/index.ts";
import { BUNDLED_REQUESTS } from "../../plugins/requests.ts";
import { coreRequests } from "../../agent/wire.ts";
import { lyingAgent } from "../testing.ts";
import { createBridge, type Bridge } from "./app.ts";
import { clientPool, type ClientPool } from "./pool.ts";
import { agentSchema } from "./vm-openapi.ts";

const acmeRequests = {
  "acme.greet": {
    params: Type.Object({ who: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    result: Type.Object({ text: Type.String() }, { additionalProperties: false }),
    description: "Greets someone.",
  },
  "acme.count": {
    params: Type.Object({ upto_secs: Type.Optional(Type.Integer({ minimum: 1, maximum: 60, default: 5 })) }, { additionalProperties: false }),
    result: Type.Object({ counted: Type.Integer() }),
    description: "Counts, streaming each number.",
    events: { n: Type.Integer() },
    deadlineParam: "upto_secs",
  },
} satisfies RequestTable;

const TOKEN = "tok-vm-openapi";
const auth = { authorization: `Bearer ${TOKEN}` };
const tmp = tempDir("mvm-vm-openapi-");
let agent: TestAgent;
let old: Awaited<ReturnType<typeof lyingAgent>>;
let evil: Awaited<ReturnType<typeof lyingAgent>>;
let broken: Awaited<ReturnType<typeof lyingAgent>>;
let pool: ClientPool;
let bridge: Bridge;

beforeAll(async () => {
  agent = await startTestAgent({
    plugins: [{ name: "acme", requests: defineRequests(acmeRequests, { "acme.greet": ({ who }) => ({ text: `hi ${who}` }), "acme.count": () => ({ counted: 0 }) }) }],
  });
  // An agent before describe: hello only.
  old = await lyingAgent(join(tmp.path, "old.sock"), (type) => {
    if (type === "describe") throw { code: "E_UNKNOWN_REQUEST", message: 'no plugin serves "describe"' };
    return { agent: "mvm-guest-agent", version: "0.0.9", protocol: 1, build: "prod", requests: ["acme.greet", "hello", "ping", "status", "../../{x}"], plugins: ["acme"], max_frame_bytes: 1048576 };
  });
  // A hostile agent: its schemas point outside the document.
  evil = await lyingAgent(join(tmp.path, "evil.sock"), () => ({
    agent: "mvm-guest-agent",
    version: "6.6.6",
    protocol: 1,
    build: "dev",
    requests: [{ type: "evil.do", plugin: "evil", description: "<script>alert(1)</script>", params: { $ref: "http://169.254.169.254/latest" }, result: { properties: { a: { $ref: "file:///etc/passwd" } } } }],
  }));
  broken = await lyingAgent(join(tmp.path, "broken.sock"), () => ({ requests: "everything" }));
  pool = clientPool();
  bridge = createBridge({
    vms: () => [
      { name: "vm1", agent: `unix:${agent.socket}` },
      { name: "old", agent: old.address },
      { name: "evil", agent: evil.address },
      { name: "broken", agent: broken.address },
    ],
    call: pool.call,
    token: TOKEN,
    callTimeoutMs: 2000,
  });
});
afterAll(async () => {
  await pool.close();
  await agent.close();
  await Promise.all([old.close(), evil.close(), broken.close()]);
  tmp.cleanup();
});

const get = (path: string, headers: Record<string, string> = auth) => bridge.app.request(path, { headers });
type Doc = { openapi: string; paths: Record<string, { post: any }>; components: { schemas: Record<string, unknown> }; info: { description: string } };
const docOf = async (vm: string): Promise<Doc> => {
  const r = await get(`/api/vms/${vm}/openapi.json`);
  expect(r.status).toBe(200);
  return (await r.json()) as Doc;
};

describe("a VM's OpenAPI document", () => {
  test("is valid OpenAPI 3.1, with a typed path per request the agent serves", async () => {
    const doc = await docOf("vm1");
    await SwaggerParser.validate(structuredClone(doc) as never);
    expect(Object.keys(doc.paths).sort()).toEqual(["acme.count", "acme.greet", ...Object.keys(coreRequests)].sort().map((t) => `/api/vms/vm1/call/${t}`));
    const greet = doc.paths["/api/vms/vm1/call/acme.greet"]!.post;
    expect(greet).toMatchObject({ operationId: "call_acme_greet", summary: "Greets someone.", tags: ["acme"] });
    expect(greet.requestBody).toEqual({ required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/acme.greet.params" } } } });
    expect(doc.components.schemas["acme.greet.params"]).toEqual(jsonSchema(acmeRequests["acme.greet"].params));
    expect(doc.components.schemas["acme.greet.result"]).toEqual(jsonSchema(acmeRequests["acme.greet"].result));
    expect(Object.keys(greet.responses)).toEqual(["200", "400", "401", "403", "404", "409", "413", "415", "502", "503", "504"]);
    expect(greet.responses["404"].description).toContain("E_NOT_FOUND");
  });

  test("an agent with every bundled plugin: valid too, every bundled request typed from its declaration", async () => {
    const full = await createTestAgent({ plugins: builtinModules(), socket: true, clock: "system" });
    const b = createBridge({ vms: () => [{ name: "full", agent: full.address! }], call: pool.call, token: null, callTimeoutMs: 5000 });
    try {
      const doc = (await (await b.app.request("/api/vms/full/openapi.json")).json()) as Doc;
      await SwaggerParser.validate(structuredClone(doc) as never);
      for (const [type, decl] of Object.entries(BUNDLED_REQUESTS)) {
        expect(doc.paths[`/api/vms/full/call/${type}`], type).toBeDefined();
        expect(doc.components.schemas[`${type}.params`]).toEqual(jsonSchema(decl.params));
      }
      expect(doc.paths["/api/vms/full/call/sleep-prep"]!.post["x-mvm-deadline"]).toEqual({ param: "drain_timeout_secs", default_secs: 30 });
    } finally {
      await full.close();
    }
  });

  test("streaming events and the deadline are there", async () => {
    const count = (await docOf("vm1")).paths["/api/vms/vm1/call/acme.count"]!.post;
    expect(count["x-mvm-events"]).toEqual({ n: { type: "integer" } });
    expect(Object.keys(count.responses["200"].content)).toEqual(["application/json", "text/event-stream"]);
    expect(count["x-mvm-deadline"]).toEqual({ param: "upto_secs", default_secs: 5 });
    expect(count.requestBody.required).toBe(false);
  });

  test("its paths are the bridge's real call route", async () => {
    const doc = await docOf("vm1");
    const path = Object.keys(doc.paths).find((p) => p.endsWith("/acme.greet"))!;
    const r = await bridge.app.request(path, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ who: "ops" }) });
    expect(await r.json()).toEqual({ text: "hi ops" });
  });

  test("is behind the token; an unknown VM is 404; the global document lists the route", async () => {
    expect((await get("/api/vms/vm1/openapi.json", {})).status).toBe(401);
    expect((await get("/api/vms/vm1/openapi.json", { authorization: "Bearer wrong" })).status).toBe(401);
    expect((await get("/api/vms/nope/openapi.json")).status).toBe(404);
    const global = (await (await get("/openapi.json")).json()) as Doc;
    expect(global.paths["/api/vms/{name}/openapi.json"]).toBeDefined();
  });

  test("an agent before describe: requests from hello, bundled ones typed, custom ones as any object, bad names left out", async () => {
    const doc = await docOf("old");
    await SwaggerParser.validate(structuredClone(doc) as never);
    expect(Object.keys(doc.paths).sort()).toEqual(["/api/vms/old/call/acme.greet", "/api/vms/old/call/hello", "/api/vms/old/call/ping", "/api/vms/old/call/status"]);
    expect(doc.components.schemas["status.result"]).toEqual(describeRequest("status", "core", coreRequests.status).result);
    expect(doc.components.schemas["acme.greet.params"]).toEqual({ type: "object" });
    expect(doc.info.description).toContain("an agent before describe");
  });

  test("a hostile agent: refs out of the document are dropped (still valid), an answer that breaks the schema is 502 E_PROTOCOL", async () => {
    const doc = await docOf("evil");
    await SwaggerParser.validate(structuredClone(doc) as never);
    expect(doc.components.schemas["evil.do.params"]).toEqual({ "x-mvm-dropped-ref": "http://169.254.169.254/latest" });
    expect(JSON.stringify(doc)).not.toContain('"$ref":"file:');
    const r = await get("/api/vms/broken/openapi.json");
    expect(r.status).toBe(502);
    expect(await r.json()).toMatchObject({ code: "E_PROTOCOL" });
  });

  test("agentSchema keeps local refs, cuts deep nesting", () => {
    expect(agentSchema({ $ref: "#/components/schemas/X", items: { $ref: "T0" } })).toEqual({ $ref: "#/components/schemas/X", items: { $ref: "T0" } });
    let deep: unknown = { type: "string" };
    for (let i = 0; i < 100; i++) deep = { items: deep };
    expect(JSON.stringify(agentSchema(deep))).toContain("x-mvm-cut");
  });
});
