// The semaphore behind --max-concurrent-checks: bound, FIFO order, abort while waiting, idempotent release.

import { describe, expect, test } from "bun:test";
import { Limit } from "./limit.ts";

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("Limit", () => {
  test("at most max tasks run at once; waiters start in arrival order", async () => {
    const limit = new Limit(2);
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    let peak = 0;
    const all = gates.map((g, i) =>
      limit.run(async () => {
        started.push(i);
        peak = Math.max(peak, limit.running);
        await g.promise;
        return i;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect(limit.waiting).toBe(2);
    gates[1]!.resolve();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.resolve();
    gates[2]!.resolve();
    gates[3]!.resolve();
    expect(await Promise.all(all)).toEqual([0, 1, 2, 3]);
    expect(peak).toBe(2);
    expect(limit.running).toBe(0);
  });

  test("an aborted waiter leaves the queue and rejects; a task that throws frees its slot", async () => {
    const limit = new Limit(1);
    const gate = deferred();
    const first = limit.run(() => gate.promise);
    const ac = new AbortController();
    const second = limit.acquire(ac.signal);
    expect(limit.waiting).toBe(1);
    ac.abort(new Error("gone"));
    await expect(second).rejects.toThrow("gone");
    expect(limit.waiting).toBe(0);
    gate.resolve();
    await first;
    await expect(limit.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(limit.running).toBe(0);
    const release = await limit.acquire();
    release();
    release();
    expect(limit.running).toBe(0);
  });

  test("rejects a bad bound", () => {
    expect(() => new Limit(0)).toThrow("limit must be a whole number >= 1, got 0");
  });
});
