// Test support for the exec suites: live members of a process group (from /proc), an exec agent, fifos.

import { closeSync, constants, openSync, readdirSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Clock } from "../../agent/clock.ts";
import type { AgentConfig } from "../../agent/plugin.ts";
import { RawClient, startTestAgent, waitFor, type TestAgent } from "../../agent/testing.ts";
import { execPlugin } from "./exec.ts";

/** Pids of live (not zombie) processes whose process group is `pgid`, read from /proc. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(join("/proc", name, "stat"), "utf8");
    } catch {
      continue; // exited while we looked
    }
    // pid (comm) state ppid pgrp ...; comm may hold spaces and parens, so split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") out.push(Number(name));
  }
  return out;
}

/** True while `pid` exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

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
