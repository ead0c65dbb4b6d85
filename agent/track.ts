// Finding everything a command started, escaped from its process group or not: a cgroup v2 per command
// where one can be made, else an environment marker found through /proc. Used by the runner at deadlines.
// Over 300 lines on purpose: two mechanisms behind one interface share the marker, the ids and the kill;
// split, they would import each other.

import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** `cgroup`: a cgroup v2 per command (nothing can leave it without write access to the cgroup tree). `proc`: a marker variable. */
export type TrackingMode = "cgroup" | "proc";

/** The marker every command gets in its environment (both modes): `<agent pid>.<seq>`. */
export const MARKER_VAR = "MVM_AGENT_COMMAND";

/** One command's tracking: set up before spawn, `kill` at a deadline, `end` once it is over. */
export interface CommandTrack {
  /** Variables to add to the command's environment. */
  readonly env: Record<string, string>;
  /** The argv to spawn (cgroup mode runs it through a tiny shell that joins the cgroup, then execs it). */
  wrap(argv: string[]): string[];
  /** SIGKILL every process of the command that is still alive; resolves with how many were found. */
  kill(): Promise<number>;
  /** The command is over: processes left on purpose (daemons) leave the command's cgroup, which is removed. */
  end(): void;
}

export interface Tracking {
  readonly mode: TrackingMode;
  /** Where: the cgroup directory the commands' cgroups go under, or "/proc". */
  readonly where: string;
  begin(): CommandTrack;
  /** Remove what is left (the agent is stopping). */
  dispose(): void;
}

let seq = 0;
const nextId = () => `${process.pid}.${++seq}`;

function kill9(pid: number): boolean {
  try {
    process.kill(pid, "SIGKILL");
    return true;
  } catch {
    return false; // gone already
  }
}

/**
 * How much of one process's environment a /proc scan reads: 64 KiB. Any guest user can start processes
 * with environments of megabytes (read whole, 100 of them made one scan take 430 ms of the event loop,
 * up to three scans per deadline). The runner puts the marker first in a command's environment, so the
 * command, and whatever it execs with its environment as given, carries it in the first bytes; a shell
 * passes variables on in its own order, but a command's descendants rarely carry 64 KiB of environment.
 */
export const MAX_ENVIRON_SCAN_BYTES = 64 * 1024;
/** One buffer for every read of a scan (scans are synchronous). */
let scanBuf: Buffer | null = null;

/** Up to MAX_ENVIRON_SCAN_BYTES of a process's environment, or null (exited, not ours to read). */
function readEnviron(path: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return null;
  }
  try {
    const buf = (scanBuf ??= Buffer.allocUnsafe(MAX_ENVIRON_SCAN_BYTES));
    let n = 0;
    for (let got = 1; got > 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, null);
    return buf.subarray(0, n);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * Each process whose environment holds `NAME=<one of values>` within its first MAX_ENVIRON_SCAN_BYTES,
 * with the value (root reads every process's).
 */
export function pidsWithMarker(name: string, values: ReadonlySet<string>, procDir = "/proc"): [number, string][] {
  const key = Buffer.from(`${name}=`);
  const out: [number, string][] = [];
  let entries: string[];
  try {
    entries = readdirSync(procDir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const c = e.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const env = readEnviron(`${procDir}/${e}/environ`);
    if (!env) continue;
    for (let i = env.indexOf(key); i >= 0; i = env.indexOf(key, i + 1)) {
      if (i > 0 && env[i - 1] !== 0) continue;
      const endAt = env.indexOf(0, i);
      // A value cut by the read's end is no marker we know (the buffer is full, not the environment's end).
      if (endAt < 0 && env.length === MAX_ENVIRON_SCAN_BYTES) break;
      const value = env.toString("latin1", i + key.length, endAt < 0 ? env.length : endAt);
      if (values.has(value)) out.push([pid, value]);
      break;
    }
  }
  return out;
}

/**
 * Kill every process carrying one of the markers asked for in the same turn of the event loop: one
 * /proc scan serves every command whose deadline passed at once (a hundred at a time must not mean a
 * hundred scans). A second and third scan catch children forked while the first kills were sent.
 */
const asked = new Map<string, ((n: number) => void)[]>();
let scanQueued = false;
function killMarked(value: string): Promise<number> {
  return new Promise((resolve) => {
    const list = asked.get(value);
    if (list) list.push(resolve);
    else asked.set(value, [resolve]);
    if (scanQueued) return;
    scanQueued = true;
    setImmediate(() => {
      scanQueued = false;
      const batch = new Map(asked);
      asked.clear();
      const values = new Set(batch.keys());
      const killed = new Map<number, string>();
      for (let round = 0; round < 3; round++) {
        let fresh = 0;
        for (const [pid, v] of pidsWithMarker(MARKER_VAR, values)) {
          if (killed.has(pid)) continue; // dying already
          killed.set(pid, v);
          if (kill9(pid)) fresh++;
        }
        if (fresh === 0) break;
      }
      const counts = new Map<string, number>();
      for (const v of killed.values()) counts.set(v, (counts.get(v) ?? 0) + 1);
      for (const [v, fns] of batch) for (const fn of fns) fn(counts.get(v) ?? 0);
    });
  });
}

/** The marker alone: found through /proc/PID/environ. A process that clears its environment escapes it (see docs/security.md). */
function procTracking(): Tracking {
  return {
    mode: "proc",
    where: "/proc",
    begin() {
      const id = nextId();
      return {
        env: { [MARKER_VAR]: id },
        wrap: (argv) => argv,
        kill: () => killMarked(id),
        end() {},
      };
    },
    dispose() {},
  };
}

/** The cgroup v2 directory this process is in, from /proc/self/mountinfo and /proc/self/cgroup; null without cgroup v2. */
export function ownCgroupDir(): string | null {
  let mount: string | undefined;
  try {
    for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
      const sep = line.indexOf(" - ");
      if (sep < 0) continue;
      if (line.slice(sep + 3).split(" ")[0] === "cgroup2") {
        mount = line.slice(0, sep).split(" ")[4];
        break;
      }
    }
    if (!mount) return null;
    const rel = readFileSync("/proc/self/cgroup", "utf8")
      .split("\n")
      .find((l) => l.startsWith("0::"))
      ?.slice(3);
    if (rel === undefined) return null;
    const dir = join(mount, rel);
    return existsSync(join(dir, "cgroup.procs")) ? dir : null;
  } catch {
    return null;
  }
}

/**
 * A cgroup per command under `<our cgroup>/mvm-agent-<pid>`. Throws when it cannot be made (no cgroup v2,
 * read-only, not permitted), so that `auto` falls back to the marker.
 */
function cgroupTracking(parent = ownCgroupDir()): Tracking {
  if (!parent) throw new Error("no cgroup v2 hierarchy is mounted (or this process's cgroup is not in it)");
  removeStale(parent);
  const base = join(parent, `mvm-agent-${process.pid}`);
  try {
    mkdirSync(base, { recursive: true });
    writeFileSync(join(base, "cgroup.procs"), ""); // writable? (an empty write moves nothing)
  } catch (e) {
    throw new Error(`cannot make cgroups under ${parent}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  /** Cgroups whose rmdir failed (a killed process still exiting): retried at every begin and at dispose. */
  const leftovers = new Set<string>();
  const remove = (dir: string) => {
    try {
      rmdirSync(dir);
      leftovers.delete(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") leftovers.delete(dir);
      else leftovers.add(dir);
    }
  };
  const procs = (dir: string): number[] => {
    try {
      return readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const hasKill = existsSync(join(base, "cgroup.kill"));
  // A process that never calls dispose (a library user, a test) still leaves no empty cgroup behind.
  const onExit = () => {
    for (const d of [...leftovers]) remove(d);
    remove(base);
  };
  process.once("exit", onExit);
  return {
    mode: "cgroup",
    where: base,
    begin() {
      for (const d of [...leftovers]) remove(d);
      const id = nextId();
      const dir = join(base, `cmd-${id}`);
      let made = true;
      try {
        mkdirSync(dir);
      } catch {
        made = false; // the marker still tracks it
      }
      return {
        env: { [MARKER_VAR]: id },
        // The shell joins the cgroup before exec'ing the command, so nothing the command forks is outside it.
        wrap: (argv) => (made ? ["/bin/sh", "-c", 'echo $$ > "$1" 2>/dev/null; shift; exec "$@"', "mvm-track", join(dir, "cgroup.procs"), ...argv] : argv),
        async kill() {
          let n = 0;
          if (made) {
            n = procs(dir).length;
            if (hasKill) {
              try {
                writeFileSync(join(dir, "cgroup.kill"), "1");
              } catch {
                // gone already
              }
            } else {
              // Before cgroup.kill (Linux 5.14): freeze, kill what is listed, thaw; again until empty.
              for (let round = 0; round < 20; round++) {
                const pids = procs(dir);
                if (pids.length === 0) break;
                try {
                  writeFileSync(join(dir, "cgroup.freeze"), "1");
                } catch {
                  // no freezer: kill anyway
                }
                for (const p of pids) kill9(p);
                try {
                  writeFileSync(join(dir, "cgroup.freeze"), "0");
                } catch {
                  // as above
                }
              }
            }
          }
          // An empty cgroup: everything is dead already, or the shell could not join it; the marker tells.
          return n > 0 ? n : killMarked(id);
        },
        end() {
          if (!made) return;
          // What is left let go of the command's pipes: a daemon started on purpose. It joins the agent's cgroup.
          for (let round = 0; round < 5; round++) {
            const pids = procs(dir);
            if (pids.length === 0) break;
            for (const p of pids) {
              try {
                appendFileSync(join(parent, "cgroup.procs"), `${p}\n`);
              } catch {
                // exited meanwhile
              }
            }
          }
          remove(dir);
        },
      };
    },
    dispose() {
      process.off("exit", onExit);
      onExit();
    },
  };
}

/** Remove the empty command cgroups of agents that are gone (killed with SIGKILL, a crash). */
function removeStale(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => /^mvm-agent-\d+$/.test(n));
  } catch {
    return;
  }
  for (const n of names) {
    const pid = Number(n.slice("mvm-agent-".length));
    if (pid === process.pid || existsSync(`/proc/${pid}`)) continue;
    const dir = join(parent, n);
    try {
      for (const c of readdirSync(dir, { withFileTypes: true })) if (c.isDirectory()) rmdirSync(join(dir, c.name));
      rmdirSync(dir);
    } catch {
      // still holds processes (a daemon of a dead agent): left alone
    }
  }
}

let current: Tracking | null = null;

/**
 * Choose how commands are tracked for this process: `cgroup` (fails when none can be made), `proc`,
 * or `auto` (cgroup where possible). Returns the choice; the runner uses it from then on.
 * @example const t = setCommandTracking("auto"); log.info(`commands tracked by ${t.mode} (${t.where})`);
 */
export function setCommandTracking(mode: "auto" | TrackingMode): Tracking {
  current?.dispose();
  current = null;
  if (mode === "proc") current = procTracking();
  else if (mode === "cgroup") current = cgroupTracking();
  else {
    try {
      current = cgroupTracking();
    } catch {
      current = procTracking();
    }
  }
  return current;
}

/** The tracking in use (`auto` on first use). */
export function commandTracking(): Tracking {
  return (current ??= setCommandTracking("auto"));
}

const procOnly = procTracking();
/** A tracking by mode for one command (tests force the fallback with `proc`). */
export function trackingFor(mode: TrackingMode | undefined): Tracking {
  if (mode === undefined || mode === commandTracking().mode) return commandTracking();
  if (mode === "proc") return procOnly;
  throw new Error(`command tracking "${mode}" is not set up in this process (setCommandTracking("cgroup") first)`);
}
