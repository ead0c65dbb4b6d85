// Step events of a streaming sleep-prep and wake: one running and one ended event per step of the answer, checked
// against the declared schema; none without `stream` (the mvm dialect: plugins/snapshot-mvm-compat.test.ts).

import { afterEach, describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import type { EventFrame } from "../../agent/wire.ts";
import { snapshotRequests, SleepPrepResult, StepEvent, WakeResult, type Step } from "./schemas.ts";
import { harness, integration, type Harness } from "./testkit.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Dispatch with an event listener: the answer, and every event frame before it. */
async function streamed(type: string, params: Record<string, unknown>): Promise<{ answer: any; events: EventFrame[] }> {
  const events: EventFrame[] = [];
  const answer = await h!.agent.dispatch({ type, id: 1, params }, { onEvent: (f) => void events.push(f as EventFrame) });
  return { answer, events };
}

/** Each step of the answer was announced running, then ended with the answer's own fields, in that order. */
function expectOneToOne(steps: Step[], events: EventFrame[]): void {
  for (const f of events) {
    expect(f.event).toBe("step");
    expect(Value.Check(StepEvent, f.data)).toBe(true);
  }
  const data = events.map((f) => f.data as StepEvent);
  expect(data).toHaveLength(steps.length * 2);
  for (const s of steps) {
    const started = data.findIndex((e) => e.name === s.name && e.status === "running");
    const ended = data.findIndex((e) => e.name === s.name && e.status !== "running");
    expect(started).toBeGreaterThanOrEqual(0);
    expect(ended).toBeGreaterThan(started);
    expect(data[started]).toEqual({ name: s.name, status: "running", duration_ms: 0, detail: "" });
    expect(data[ended]).toEqual({ name: s.name, status: s.ok ? "ok" : "failed", duration_ms: s.duration_ms, detail: s.detail });
  }
}

describe("step events", () => {
  test("the declaration names them, with the schema their data follows", () => {
    expect(snapshotRequests["sleep-prep"].events).toEqual({ step: StepEvent });
    expect(snapshotRequests.wake.events).toEqual({ step: StepEvent });
  });

  test("sleep-prep with stream: each step running then ended, as the answer lists it; checkpoints run at once, so both start before either ends", async () => {
    h = await harness({
      integrations: () => [
        integration("db", { checkpoint_cmd: "sleep 0.3; echo flushed", critical: true }),
        integration("cache", { checkpoint_cmd: "sleep 0.3; echo disk full >&2; exit 3", critical: true }),
      ],
    });
    const { answer, events } = await streamed("sleep-prep", { stream: true, drain_timeout_secs: 10 });
    expect(answer.ok).toBe(true);
    expect(Value.Check(SleepPrepResult, answer.result)).toBe(true);
    expect(answer.result.steps.map((s: Step) => s.name)).toEqual(["checkpoint:db", "checkpoint:cache", "sync", "drop-caches", "gc"]);
    expectOneToOne(answer.result.steps, events);
    const order = events.map((f) => `${(f.data as StepEvent).name} ${(f.data as StepEvent).status}`);
    expect(order.slice(0, 2).sort()).toEqual(["checkpoint:cache running", "checkpoint:db running"]);
    // The critical note is part of the ended event, as it is of the answer.
    expect(events.find((f) => (f.data as StepEvent).name === "checkpoint:cache" && (f.data as StepEvent).status === "failed")?.data).toMatchObject({
      detail: "exit 3: disk full (critical: sleep-prep is not ready)",
    });
    expect(order.slice(-6)).toEqual(["sync running", "sync ok", "drop-caches running", "drop-caches ok", "gc running", "gc ok"]);
    for (const f of events) expect(f).toMatchObject({ id: 1, type: "sleep-prep" });
  });

  test("without stream (or stream: false) no event is sent, and the answer is the same shape", async () => {
    h = await harness({ integrations: () => [integration("db", { checkpoint_cmd: "true", restore_cmd: "true" })] });
    const plain = await streamed("sleep-prep", {});
    expect(plain.events).toEqual([]);
    expect(Value.Check(SleepPrepResult, plain.answer.result)).toBe(true);
    const off = await streamed("wake", { stream: false });
    expect(off.events).toEqual([]);
    expect(Value.Check(WakeResult, off.answer.result)).toBe(true);
  });

  test("wake with stream: the clock step, then each restore; a failed restore ends failed", async () => {
    h = await harness({
      integrations: () => [integration("db", { restore_cmd: "echo back" }), integration("web", { restore_cmd: "echo no >&2; exit 2" })],
    });
    await h.ok("sleep-prep");
    const { answer, events } = await streamed("wake", { stream: true, wall_clock: new Date(h.clock.now()).toISOString() });
    expect(answer.ok).toBe(true);
    expect(answer.result.steps.map((s: Step) => s.name)).toEqual(["clock", "restore:db", "restore:web"]);
    expectOneToOne(answer.result.steps, events);
    expect(events.slice(0, 2).map((f) => (f.data as StepEvent).name)).toEqual(["clock", "clock"]);
    expect(events.find((f) => (f.data as StepEvent).name === "restore:web" && (f.data as StepEvent).status !== "running")?.data).toMatchObject({ status: "failed", detail: "exit 2: no" });
  });

  test("a repeated sleep-prep (already sleeping) answers again without running, so without events", async () => {
    h = await harness({ integrations: () => [integration("db", { checkpoint_cmd: "true" })] });
    await h.ok("sleep-prep");
    const again = await streamed("sleep-prep", { stream: true });
    expect(again.answer.ok).toBe(true);
    expect(again.events).toEqual([]);
  });

  test("a bad stream value is refused with the path", async () => {
    h = await harness();
    const r = await h.send("sleep-prep", { stream: "yes" });
    expect(r.ok).toBe(false);
    expect(JSON.stringify((r as { error: unknown }).error)).toContain("/stream");
  });
});
