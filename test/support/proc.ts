// What /proc says about processes: alive (one rule for zombies), process groups, descendants, RSS, fds.

import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  /** R, S, D, Z (zombie), X (dead), T, ... */
  state: string;
  comm: string;
}

/** One process's /proc/PID/stat, or null once it is gone. `comm` may hold spaces and parens: fields follow the last ")". */
export function procInfo(pid: number | string): ProcInfo | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const close = stat.lastIndexOf(")");
  const f = stat.slice(close + 2).split(" ");
  return { pid: Number(pid), state: f[0]!, ppid: Number(f[1]), pgid: Number(f[2]), comm: stat.slice(stat.indexOf("(") + 1, close) };
}

/**
 * True while `pid` runs. A zombie (exited, waiting for its parent to reap it) or a dead entry counts
 * as gone: it holds no pipe, no memory and runs no code. The one rule every test uses.
 * @example await waitFor(() => !alive(pid), 10_000, "the command's process to be gone");
 */
export function alive(pid: number): boolean {
  const p = procInfo(pid);
  return p !== null && p.state !== "Z" && p.state !== "X";
}

/** Every process on the machine. */
export function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const p = procInfo(name);
    if (p) out.push(p);
  }
  return out;
}

/** Pids of live processes (by `alive`'s rule) whose process group is `pgid`. */
export function groupMembers(pgid: number): number[] {
  return processes()
    .filter((p) => p.pgid === pgid && p.state !== "Z" && p.state !== "X")
    .map((p) => p.pid);
}

/** Descendants of `pid` (children, grandchildren...), live or zombie. */
export function descendants(pid: number, all = processes()): ProcInfo[] {
  const out: ProcInfo[] = [];
  const want = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all)
      if (want.has(p.ppid) && !want.has(p.pid)) {
        want.add(p.pid);
        out.push(p);
        grew = true;
      }
  }
  return out;
}

/** Live processes whose command line contains `marker` (commands tagged by the test). */
export function liveWithMarker(marker: string): number[] {
  const out: number[] = [];
  for (const p of processes()) {
    if (p.state === "Z" || p.state === "X") continue;
    try {
      if (readFileSync(`/proc/${p.pid}/cmdline`, "utf8").includes(marker)) out.push(p.pid);
    } catch {
      // gone
    }
  }
  return out;
}

/** Zombie children of `pid`. */
export function zombies(pid: number): ProcInfo[] {
  return processes().filter((p) => p.ppid === pid && p.state === "Z");
}

/** VmRSS of a process in KiB. */
export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0);
}

/** Open fds of a process, by kind (socket, pipe, anon_inode:[eventfd], /path ...). */
export function fds(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/\[\d+\]$/, ""));
    } catch {
      // closed while we looked
    }
  }
  return out;
}

/**
 * The idle RSS floor of `pid`: the lowest VmRSS over a `windowMs` window sampled every 500 ms. An idle Bun
 * process gives memory back in steps, each plateau lasting up to ~7 s (JSC's collections and its page
 * scavenger), so a short "stable" reading can sit on a plateau 40 % above the floor (measured: 130, 102,
 * 82 ... 82, 72 MB over 15 s after the same fuzz work). This is a measurement window, not a wait for an event.
 */
export async function idleRssFloor(pid: number, windowMs = 15_000): Promise<number> {
  let min = rssKb(pid);
  for (const end = Date.now() + windowMs; Date.now() < end; ) {
    await Bun.sleep(500);
    min = Math.min(min, rssKb(pid));
  }
  return min;
}
