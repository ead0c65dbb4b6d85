// Across two plugins: the mvm dialect's SleepPrep and Wake stay one frame each now that sleep-prep and wake can
// stream step events (the dialect never asks for them).

import { describe, expect, test } from "bun:test";
import { ask, startCompatAgent } from "./mvm-compat/testkit.ts";

describe("the mvm dialect is unaffected", () => {
  test("SleepPrep and Wake answer with one frame each, never an event", async () => {
    const a = await startCompatAgent({ integrations: () => [{ name: "db", checkpoint_cmd: "true", restore_cmd: "true" }] });
    try {
      const c = await a.connect();
      expect((await ask(c, '{"SleepPrep":{"drain_timeout_secs":10}}')).SleepPrepAck.success).toBe(true);
      expect(await ask(c, '"Wake"')).toEqual({ WakeAck: { success: true } });
      expect(await ask(c, '"Ping"')).toEqual("Pong");
    } finally {
      await a.close();
    }
  });
});
