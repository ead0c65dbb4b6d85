// The agent's memory stays bounded under large exec output: peak RSS of a separate agent process, read from /proc.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { RawClient } from "../../agent/testing.ts";
import { spawnAgent, type SpawnedAgent } from "../../test/support/index.ts";

const MB = 1024 * 1024;
let proc: SpawnedAgent;
let client: RawClient;

/** Peak resident set size of the agent process so far, in bytes. */
const peakRss = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"))![1]) * 1024;
const produce = (bytes: number) => `head -c ${bytes} /dev/zero | tr '\\0' a`;

beforeAll(async () => {
  proc = await spawnAgent({ entry: join(import.meta.dir, "fixtures/exec-agent.ts"), hostSafe: false, args: ["--log-level", "warn"] });
  client = await proc.connect();
});
afterAll(async () => {
  client?.close();
  await proc?.stop();
});

/** Run one exec to its answer (events read and counted); returns the answer and the streamed text length. */
async function run(id: number, params: Record<string, unknown>): Promise<{ answer: any; streamed: number }> {
  client.send({ type: "exec", id, params });
  let streamed = 0;
  for (;;) {
    const f = (await client.next(60_000)) as any;
    if (!f.event) return { answer: f, streamed };
    streamed += f.data.length;
  }
}

test("10 MB of output, then 200 MB, kept and streamed: peak memory does not grow with the output", async () => {
  // Warm-up with the 10 MB, kept and streamed: buffers, JIT and the first GC cycles settle here.
  const warm = await run(1, { command: produce(10 * MB) });
  expect(warm.answer.result).toMatchObject({ stdout_bytes: 10 * MB, stdout_truncated: true });
  const warmStream = await run(2, { command: produce(10 * MB), stream: true });
  expect(warmStream.streamed).toBe(MB); // the default cap, 1 MiB
  expect(warmStream.answer.result).toMatchObject({ stdout_bytes: 10 * MB, stdout_truncated: true, stdout: "" });
  const before = peakRss();

  const kept = await run(3, { command: produce(200 * MB) });
  expect(kept.answer.result).toMatchObject({ exit_code: 0, stdout_bytes: 200 * MB, stdout_truncated: true });
  const streamed = await run(4, { command: produce(200 * MB), stream: true, max_output_bytes: 16 * MB });
  expect(streamed.answer.result).toMatchObject({ exit_code: 0, stdout_bytes: 200 * MB, stdout_truncated: true, stdout: "" });
  expect(streamed.streamed).toBe(16 * MB);

  // Buffering either run would add at least 200 MB; a bounded agent adds far less (GC slack).
  const growth = peakRss() - before;
  expect(growth).toBeLessThan(64 * MB);
}, 120_000);
