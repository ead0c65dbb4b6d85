// Request declarations: deadlines read from a declaration's own schema, and defineRequests pairing tables with handlers.

import { expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { createAgent } from "./agent.ts";
import { memoryLogger } from "./log.ts";
import { defineRequests, type RequestTable } from "./plugin.ts";
import { deadlineSecs } from "./requests.ts";

const Drain = Type.Object(
  { drain_secs: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100, default: 30 })) },
  { additionalProperties: false },
);
const Done = Type.Object({ done: Type.Boolean() }, { additionalProperties: false });
const table = {
  "acme.drain": { params: Drain, result: Done, description: "Drain.", deadlineParam: "drain_secs" },
  "acme.walk": { params: Type.Object({}), result: Done, description: "Walk.", timeoutSecs: 300 },
  "acme.now": { params: Type.Object({}), result: Done, description: "At once." },
} satisfies RequestTable;

test("deadlineSecs: the param's value, capped by its maximum; else its schema default; else timeoutSecs; else none", () => {
  expect(deadlineSecs(table["acme.drain"], { drain_secs: 7 })).toBe(7);
  expect(deadlineSecs(table["acme.drain"], { drain_secs: 1e9 })).toBe(100);
  expect(deadlineSecs(table["acme.drain"], {})).toBe(30);
  expect(deadlineSecs(table["acme.drain"], undefined)).toBe(30);
  // Hostile values fall back to the default instead of escaping it.
  for (const bad of [-1, 0, Number.NaN, "600", null]) expect(deadlineSecs(table["acme.drain"], { drain_secs: bad })).toBe(30);
  expect(deadlineSecs(table["acme.walk"], { anything: 1 })).toBe(300);
  expect(deadlineSecs(table["acme.now"], {})).toBeUndefined();
});

test("defineRequests pairs each declaration with its handler and serves it; a missing handler is refused", async () => {
  const requests = defineRequests(table, {
    "acme.drain": ({ drain_secs }) => ({ done: drain_secs === undefined }),
    "acme.walk": () => ({ done: true }),
    "acme.now": () => ({ done: true }),
  });
  expect(requests["acme.drain"].params).toBe(Drain);
  expect(requests["acme.drain"].deadlineParam).toBe("drain_secs");
  const agent = createAgent({ plugins: [{ name: "acme", requests }], log: memoryLogger() });
  await agent.start();
  expect(await agent.call("acme.drain", {})).toEqual({ done: true });
  await agent.stop();
  // @ts-expect-error every declared request needs a handler
  expect(() => defineRequests(table, { "acme.drain": () => ({ done: true }), "acme.walk": () => ({ done: true }) })).toThrow(
    'request "acme.now" is declared but has no handler',
  );
});
