// Test support for VMM drivers: a real QEMU with no guest (`-M none`), stale sockets, scripted socket servers.

import { existsSync, rmSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { expect } from "bun:test";
import { waitFor } from "../../../agent/testing.ts";

/** The QEMU binary, or null (tests then say SKIPPED loudly; .ci/run installs qemu-system-x86). */
export const QEMU = Bun.which("qemu-system-x86_64");

export function warnIfNoQemu(what: string): void {
  if (!QEMU) console.warn(`\n!!! SKIPPED: ${what} was NOT tested against a real QEMU: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)\n`);
}

export interface TestQemu {
  proc: Subprocess;
  qmp: string;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

/**
 * A QEMU machine without CPUs or RAM (`-M none`) with QMP on `dir/NAME.qmp`: real QMP, real migration
 * streams, no guest. `incoming: true` starts it with `-incoming defer -S` (waiting for a restore).
 * @example const q = await startQemu(dir, "src"); ...; await q.kill();
 */
export async function startQemu(dir: string, name: string, opts: { incoming?: boolean } = {}): Promise<TestQemu> {
  if (!QEMU) throw new Error("qemu-system-x86_64 is not installed");
  const qmp = join(dir, `${name}.qmp`);
  rmSync(qmp, { force: true });
  const argv = [QEMU, "-M", "none", "-nodefaults", "-no-user-config", "-display", "none", "-qmp", `unix:${qmp},server=on,wait=off`];
  if (opts.incoming) argv.push("-incoming", "defer", "-S");
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  // The socket file appears at bind(), a moment before listen(): wait until a connection is accepted.
  await waitFor(async () => proc.exitCode !== null || (existsSync(qmp) && (await accepts(qmp))), 15_000, `QEMU's QMP socket ${qmp}`);
  if (proc.exitCode !== null) throw new Error(`QEMU exited with ${proc.exitCode}: ${await new Response(proc.stderr).text()}`);
  return {
    proc,
    qmp,
    async kill() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

/** True when a unix socket accepts a connection (closed at once). */
function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(path, () => {
      c.destroy();
      resolve(true);
    });
    c.on("error", () => resolve(false));
  });
}

/** The socket file a killed process left behind (what a QEMU killed with SIGKILL leaves). */
export async function staleSocket(path: string): Promise<string> {
  const p = Bun.spawn([process.execPath, "-e", `require("net").createServer().listen(${JSON.stringify(path)}); setInterval(() => {}, 1000)`], { stdout: "ignore", stderr: "ignore" });
  await waitFor(() => existsSync(path), 10_000, "the child's socket");
  p.kill("SIGKILL");
  await p.exited;
  return path;
}

/** A unix socket server that runs `script` for each connection. */
export async function fakeServer(dir: string, name: string, script: (c: net.Socket) => void): Promise<{ path: string; close(): Promise<void> }> {
  const path = join(dir, name);
  const server = net.createServer((c) => {
    c.on("error", () => {});
    script(c);
  });
  await new Promise<void>((r) => server.listen(path, r));
  const sockets = new Set<net.Socket>();
  server.on("connection", (c) => {
    sockets.add(c);
    c.on("close", () => sockets.delete(c));
  });
  return {
    path,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * The error `p` rejects with, checked to be a `cls` (a promise that resolves fails the test).
 * @example const e = await rejectsWith(qmp.execute("stop"), VmmError); expect(e.code).toBe("E_VMM_TIMEOUT");
 */
export async function rejectsWith<T>(p: Promise<unknown>, cls: abstract new (...args: never[]) => T): Promise<T> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(cls);
  return e as T;
}
