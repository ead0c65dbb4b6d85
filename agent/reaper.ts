// Child subreaper (as tini and the kata agent are): orphans of commands become the agent's children, and
// are reaped here, by pid, never with waitpid(-1), so that no child Bun.spawn waits on is ever taken.

import { dlopen, FFIType, ptr } from "bun:ffi";
import { readdirSync, readFileSync } from "node:fs";

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;

let libc: ReturnType<typeof open> | null = null;
function open() {
  return dlopen("libc.so.6", {
    prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
    waitpid: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  }).symbols;
}
const lib = () => (libc ??= open());

/** prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants are re-parented to this process, not to init (`on` false: undo). */
export function becomeSubreaper(on = true): boolean {
  try {
    return lib().prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) === 0;
  } catch {
    return false; // not Linux, or no libc
  }
}

/** This process's children that are zombies, from /proc/self/task/TID/children (else a /proc scan). */
function zombieChildren(self = process.pid): number[] {
  let kids: number[] = [];
  try {
    for (const tid of readdirSync("/proc/self/task")) {
      const text = readFileSync(`/proc/self/task/${tid}/children`, "utf8").trim();
      if (text) kids.push(...text.split(" ").map(Number));
    }
  } catch {
    // No CONFIG_PROC_CHILDREN: every process's stat says who its parent is.
    kids = [];
    for (const e of readdirSync("/proc")) {
      if (!/^\d+$/.test(e)) continue;
      const st = statOf(Number(e));
      if (st && st.ppid === self) kids.push(Number(e));
    }
  }
  return kids.filter((pid) => statOf(pid)?.state === "Z");
}

function statOf(pid: number): { state: string; ppid: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0]!, ppid: Number(rest[1]) };
  } catch {
    return null;
  }
}

export interface ReaperOptions {
  /** Children the process spawned itself and still waits on (the runner's live Bun.spawn pids): never reaped here. */
  isOwn(pid: number): boolean;
  /** Between scans (default 1000 ms). */
  intervalMs?: number;
}

/**
 * Reap orphans re-parented to this process (PID 1, or a subreaper). A zombie child is reaped with
 * waitpid(pid, WNOHANG) only when it is not one of the runner's own children and was already a zombie
 * at the previous scan: a child that some other Bun.spawn waits on is reaped by Bun within a turn of the
 * event loop, so it never stays a zombie for a whole interval. `poke()` asks for a scan soon (after a
 * deadline killed escaped processes). Returns the disposer.
 * @example const r = startReaper({ isOwn: isRunnerChild }); onStop(() => r.stop());
 */
export function startReaper(o: ReaperOptions): { poke(): void; scan(): number; stop(): void } {
  const interval = o.intervalMs ?? 1000;
  /** Zombie children not our own, and when each was first seen. */
  let firstSeen = new Map<number, number>();
  const status = new Int32Array(1);
  const scan = (): number => {
    let reaped = 0;
    const t = performance.now();
    const next = new Map<number, number>();
    for (const pid of zombieChildren()) {
      if (o.isOwn(pid)) continue;
      const since = firstSeen.get(pid) ?? t;
      if (t - since >= interval && lib().waitpid(pid, ptr(status), WNOHANG) === pid) reaped++;
      else next.set(pid, since);
    }
    firstSeen = next;
    return reaped;
  };
  const timer = setInterval(scan, interval);
  timer.unref?.();
  let soon: ReturnType<typeof setTimeout> | null = null;
  return {
    poke() {
      // Note the new zombies now; reap them once they have been zombies for a whole interval.
      scan();
      if (soon) return;
      soon = setTimeout(() => {
        soon = null;
        scan();
      }, interval + 10);
      soon.unref?.();
    },
    scan,
    stop() {
      clearInterval(timer);
      if (soon) clearTimeout(soon);
    },
  };
}
