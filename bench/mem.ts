// Memory and readiness probes of a benchmarked process: RSS, its anonymous part (smaps_rollup), RSS once
// it settles, and one spawn-until-first-ping. Shared by bench:startup and bench:footprint.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** VmRSS of a process, MB. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) / 1024;
}

/** Anonymous (heap, stacks: what the process really allocated) MB, from smaps_rollup; the rest of RSS is file-backed pages of the binary. */
export function anonMb(pid: number): number {
  const m = /^Anonymous:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
  return Number(m?.[1] ?? 0) / 1024;
}

/** RSS once it stops moving: three samples 200 ms apart within 2 % (at most 5 s). */
export async function idleRss(pid: number): Promise<number> {
  const s: number[] = [];
  const deadline = Date.now() + 5000;
  for (;;) {
    s.push(rssMb(pid));
    const last = s.slice(-3);
    if ((last.length === 3 && Math.max(...last) - Math.min(...last) <= Math.min(...last) * 0.02) || Date.now() > deadline) return s.at(-1)!;
    await Bun.sleep(200);
  }
}

/** One process started by `startReady`: how long until it answered, and its handle (kill it when done). */
export interface Ready {
  ms: number;
  proc: Bun.Subprocess;
  sock: string;
}

/**
 * Spawn `argv(sock)`, poll for the socket file every 0.2 ms, then one ping through the C client `client`
 * (bench/c/rpcclient.c); `ms` is spawn until that answer. Throws when the process exits or does not answer.
 */
export async function startReady(argv: (sock: string) => string[], dir: string, client: string, tag: string | number): Promise<Ready> {
  const sock = join(dir, `s${tag}-${Math.random().toString(36).slice(2, 8)}.sock`);
  const t0 = performance.now();
  const proc = Bun.spawn(argv(sock), { stdout: "ignore", stderr: "ignore" });
  while (!existsSync(sock)) {
    if (proc.exitCode !== null) throw new Error(`${argv(sock).join(" ")} exited with ${proc.exitCode}`);
    await Bun.sleep(0.2);
  }
  const ping = Bun.spawnSync([client, sock, "1", "1"]);
  const ms = performance.now() - t0;
  if (ping.exitCode !== 0) {
    proc.kill("SIGKILL");
    throw new Error(`no answer from ${argv(sock)[0]}`);
  }
  return { ms, proc, sock };
}

/** Spawn until ready, idle RSS and anonymous MB once settled, then SIGKILL. */
export async function readyAndIdle(argv: (sock: string) => string[], dir: string, client: string, tag: string | number): Promise<{ ms: number; rss: number; anon: number }> {
  const r = await startReady(argv, dir, client, tag);
  const rss = await idleRss(r.proc.pid);
  const anon = anonMb(r.proc.pid);
  r.proc.kill("SIGKILL");
  await r.proc.exited;
  return { ms: r.ms, rss, anon };
}
