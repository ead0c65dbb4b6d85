// Test support for the exec suites: an exec agent, fifos as barriers (process helpers: test/support).

import { closeSync, constants, openSync, writeSync } from "node:fs";
import type { Clock } from "../../agent/clock.ts";
import type { AgentConfig } from "../../agent/plugin.ts";
import { RawClient, startTestAgent, waitFor, type TestAgent } from "../../agent/testing.ts";
import { execPlugin } from "./exec.ts";

/** An agent serving only the exec plugin on a temp unix socket, and a connected client. */
export async function execAgent(opts: { clock?: Clock; config?: Partial<AgentConfig> } = {}): Promise<TestAgent & { client: RawClient }> {
  const t = await startTestAgent({ plugins: [execPlugin()], ...opts });
  const client = await RawClient.connect(t.socket);
  return {
    ...t,
    client,
    async close() {
      client.close();
      await t.close();
    },
  };
}

/** Make a fifo (a barrier a command blocks on: `read x < FIFO`). */
export function mkfifo(path: string): void {
  const r = Bun.spawnSync(["mkfifo", path]);
  if (r.exitCode !== 0) throw new Error(`mkfifo ${path}: ${r.stderr.toString()}`);
}

/**
 * Write a line into a fifo once a command has it open for reading (non-blocking open, retried
 * until a reader is there), which releases a `read x < FIFO` barrier.
 */
export async function release(fifo: string, line = "go"): Promise<void> {
  let fd = -1;
  await waitFor(() => {
    try {
      fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENXIO") return false;
      throw e;
    }
  }, 10_000, `a reader on ${fifo}`);
  try {
    writeSync(fd, `${line}\n`);
  } finally {
    closeSync(fd);
  }
}
