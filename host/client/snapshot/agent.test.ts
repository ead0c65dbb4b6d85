// The agent side of the loop: answers that do not match the plugins' schemas are refused, and wake's retries are bounded.

import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Type } from "@sinclair/typebox";
import { defineRequest } from "../../../agent/plugin.ts";
import { startTestAgent, tempDir } from "../../../agent/testing.ts";
import { AgentClient, ClientError } from "../agent-client.ts";
import { checkedCall, type AgentCall } from "../checked.ts";
import { wakeAgent } from "./agent.ts";

const d = tempDir("mvm-loop-agentside-");
afterAll(() => d.cleanup());

describe("checkedCall", () => {
  test("an agent whose plugin answers sleep-prep with another shape: E_PROTOCOL naming the field, never acted on", async () => {
    // A custom plugin that took the name and answers `ready: "yes"`: the loop must not read that as ready.
    const Loose = Type.Object({}, { additionalProperties: true });
    const liar = { name: "liar", requests: { "sleep-prep": defineRequest({ params: Loose, result: Loose, handle: () => ({ ready: "yes", state: "sleeping" }) }) } };
    const agent = await startTestAgent({ plugins: [liar] });
    const client = new AgentClient(`unix:${agent.socket}`);
    try {
      const call: AgentCall = (t, p, o) => client.call(t, p, o);
      const e = await checkedCall(call, "sleep-prep", {}, 2000).then(
        () => null,
        (err: unknown) => err as ClientError,
      );
      expect(e).toBeInstanceOf(ClientError);
      expect(e!.code).toBe("E_PROTOCOL");
      expect(e!.message).toContain("the agent's answer to sleep-prep does not match its schema (/");
    } finally {
      await client.close();
      await agent.close();
    }
  });
});

describe("wakeAgent", () => {
  test("a permanent error (not a socket) is thrown at once; a missing socket is asked again until the deadline", async () => {
    const notSock = join(d.path, "file");
    await Bun.write(notSock, "");
    const c1 = new AgentClient(`unix:${notSock}`);
    let waits = 0;
    const e1 = await wakeAgent((t, p, o) => c1.call(t, p, o), { now: Date.now, callTimeoutMs: 500, deadlineMs: 60_000, sleep: async () => void waits++ }).then(
      () => null,
      (e: ClientError) => e,
    );
    expect(e1!.code).toBe("E_NOT_A_SOCKET");
    expect(waits).toBe(0);
    const c2 = new AgentClient(`unix:${join(d.path, "missing.sock")}`);
    const e2 = await wakeAgent((t, p, o) => c2.call(t, p, o), { now: Date.now, callTimeoutMs: 100, deadlineMs: 300 }).then(
      () => null,
      (e: ClientError) => e,
    );
    expect(e2!.code).toBe("E_SOCKET_MISSING");
    expect(e2!.message).toMatch(/\(after \d+ attempts in 0\.3 s\)$/);
    await c1.close();
    await c2.close();
  });
});
