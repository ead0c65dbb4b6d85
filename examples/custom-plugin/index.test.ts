// The example plugin's own tests, as an author writes them: the contract, the request, the schedule, a typed client call.

import { expect, test } from "bun:test";
import { AgentClient } from "mvm-guest-agent/client";
import { checkPluginContract, createTestAgent } from "mvm-guest-agent/testing";
import acme from "./index.ts";

checkPluginContract(acme);

test("acme.greet greets with the flag's word and counts; nobody is E_NOT_FOUND; bad params are refused", async () => {
  const t = await createTestAgent({ plugins: [acme], flags: ["--acme-greeting", "hi"] });
  expect(await t.call("acme.greet", { who: "ops" })).toEqual({ text: "hi, ops", greetings: 1 });
  await expect(t.call("acme.greet", { who: "nobody" })).rejects.toMatchObject({ code: "E_NOT_FOUND" });
  await expect(t.call("acme.greet", { who: "" })).rejects.toMatchObject({ code: "E_INVALID_PARAMS" });
  await t.close();
});

test("the heartbeat has run once when the agent is up, and once per interval after", async () => {
  const t = await createTestAgent({ plugins: [acme], flags: ["--acme-heartbeat-ms", "5000"] });
  expect(await t.section(acme)).toEqual({ greetings: 0, beats: 1 });
  await t.advance(5000);
  expect((await t.section(acme))?.beats).toBe(2);
  await t.close();
});

test("over a socket, AgentClient's call is typed from the declaration", async () => {
  const t = await createTestAgent({ plugins: [acme], socket: true });
  const client = new AgentClient(t.address!);
  const { text, greetings } = await client.call("acme.greet", { who: "host" }); // { text: string; greetings: number }
  expect([text, greetings]).toEqual(["hello, host", 1]);
  // @ts-expect-error `who` is required: the declaration types the client's params
  await expect(client.call("acme.greet", {})).rejects.toMatchObject({ code: "E_INVALID_PARAMS" });
  await client.close();
  await t.close();
});
