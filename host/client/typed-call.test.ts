// call(type, params) is typed from AgentRequests: bundled requests, and a custom plugin's once it merges its table in.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { defineRequests, type RequestTable, type RequestTypes } from "../../agent/plugin.ts";
import { startTestAgent, type TestAgent } from "../../agent/testing.ts";
import { AgentClient } from "./agent-client.ts";

/** A custom plugin's table, declared the way each plugin's schemas.ts declares its own. */
const typedTestRequests = {
  "typed-test.double": {
    params: Type.Object({ n: Type.Integer() }, { additionalProperties: false }),
    result: Type.Object({ doubled: Type.Integer() }, { additionalProperties: false }),
    description: "Doubles n (a test of the host's typed call).",
  },
} satisfies RequestTable;

declare module "../../agent/plugin.ts" {
  interface AgentRequests extends RequestTypes<typeof typedTestRequests> {}
}

let agent: TestAgent;
let client: AgentClient;
beforeAll(async () => {
  agent = await startTestAgent({ plugins: [{ name: "typed-test", requests: defineRequests(typedTestRequests, { "typed-test.double": ({ n }) => ({ doubled: n * 2 }) }) }] });
  client = new AgentClient(`unix:${agent.socket}`);
});
afterAll(async () => {
  await client.close();
  await agent.close();
});

test("a custom request merged into AgentRequests: typed params and result", async () => {
  const r = await client.call("typed-test.double", { n: 21 });
  const doubled: number = r.doubled; // typed: no cast
  expect(doubled).toBe(42);
  // @ts-expect-error n must be an integer, not text
  await expect(client.call("typed-test.double", { n: "21" })).rejects.toMatchObject({ code: "E_INVALID_PARAMS" });
  // @ts-expect-error its params are required
  await expect(client.call("typed-test.double")).rejects.toMatchObject({ code: "E_INVALID_PARAMS" });
});

test("bundled requests are typed; any other name takes an object and answers unknown", async () => {
  const st = await client.call("status");
  const version: string = st.version;
  expect(typeof version).toBe("string");
  const other: unknown = await client.call("no.such", {}).catch((e: { code: string }) => e.code);
  expect(other).toBe("E_UNKNOWN_REQUEST");
  const typeOnly = () => {
    // @ts-expect-error health-check needs its name
    void client.call("health-check");
    // @ts-expect-error fs-diff's limit is a number
    void client.call("fs-diff", { limit: "10" });
  };
  expect(typeof typeOnly).toBe("function");
});
