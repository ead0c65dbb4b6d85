// The system calls of the snapshot plugin: sync(), drop_caches and clock_settime, behind a port tests replace.

import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { writeFile } from "node:fs/promises";
import { constants } from "node:os";
import type { CommandResult, CommandSpec } from "../../agent/command.ts";
import { failureDetail } from "../../agent/capture.ts";
import { describeError } from "../../agent/errors.ts";
import { anonymousKb, collectGarbage, type GcOutcome } from "./memory.ts";

export const DEFAULT_DROP_CACHES_PATH = "/proc/sys/vm/drop_caches";

/** CLOCK_REALTIME from <time.h>. */
export const CLOCK_REALTIME = 0;

/**
 * What sleep-prep and wake need of the system. `defaultSys` is the real one; tests pass their
 * own to record order or to simulate a denied permission.
 * @example const sys = { ...defaultSys(ctx.runCommand), setWallClock: () => "EPERM" };
 */
export interface SnapshotSys {
  /** Flush every filesystem; resolves with how ("libc sync()"), throws Error on failure. */
  sync(opts: { timeoutMs: number }): Promise<string>;
  /** Write `3` to `path` (a file like /proc/sys/vm/drop_caches); throws the fs error (with `code`). */
  dropCaches(path: string): Promise<void>;
  /** Set CLOCK_REALTIME to `ms` since the epoch: null on success, else the errno name ("EPERM"). */
  setWallClock(ms: number): string | null;
  /** This process's anonymous memory, kB (null: unreadable). */
  anonymousKb(): number | null;
  /** A full GC with the freed pages handed back (plugins/snapshot/memory.ts); anonymous memory around it. */
  collectGarbage(): Promise<GcOutcome>;
}

const LIBC_NAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so"];

function openLibc(name: string) {
  return dlopen(name, {
    sync: { args: [], returns: FFIType.void },
    clock_settime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}

export type Libc = ReturnType<typeof openLibc>["symbols"];
let libc: Libc | null | undefined;

/** libc through bun:ffi, opened once; null when no libc could be loaded (then `sync` runs as a binary). */
export function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  for (const name of LIBC_NAMES) {
    try {
      libc = openLibc(name).symbols;
      break;
    } catch {
      // Try the next name (glibc, musl on x86-64 and arm64).
    }
  }
  return libc;
}

/** The name of an errno value ("EPERM"), or `errno N`. */
export function errnoName(n: number): string {
  for (const [name, v] of Object.entries(constants.errno)) if (v === n) return name;
  return `errno ${n}`;
}

/** `struct timespec { i64 tv_sec; i64 tv_nsec; }` for a wall-clock time in ms. */
export function timespecOf(ms: number): BigInt64Array {
  const sec = Math.floor(ms / 1000);
  const nsec = Math.round((ms - sec * 1000) * 1e6);
  return new BigInt64Array([BigInt(sec), BigInt(Math.min(nsec, 999_999_999))]);
}

/**
 * clock_settime(clockId, {sec, nsec}) through libc: null on success, else the errno name.
 * The kernel checks the timespec (nsec < 1e9) before permissions, so an invalid one is a safe probe.
 */
export function clockSettime(clockId: number, ts: BigInt64Array): string | null {
  const c = loadLibc();
  if (!c) return "ENOSYS";
  const rc = c.clock_settime(clockId, ptr(ts));
  if (rc === 0) return null;
  const p = c.__errno_location();
  return p ? errnoName(read.i32(p, 0)) : "EUNKNOWN";
}

/**
 * The real system: libc sync() (the `sync` binary through the runner when no libc loads), an
 * async write for drop_caches (the kernel drops pages while the write blocks; the event loop does not),
 * and clock_settime(CLOCK_REALTIME).
 */
export function defaultSys(run: (spec: CommandSpec) => Promise<CommandResult>, o: { libc?: Libc | null } = {}): SnapshotSys {
  return {
    async sync({ timeoutMs }) {
      const c = o.libc !== undefined ? o.libc : loadLibc();
      if (c) {
        c.sync();
        return "libc sync()";
      }
      const r = await run({ argv: ["sync"], timeoutMs, maxOutputBytes: 4096 });
      const fail = failureDetail(r, timeoutMs);
      if (fail) throw new Error(`sync binary: ${fail}`);
      return "sync binary (no libc for bun:ffi)";
    },
    async dropCaches(path) {
      await writeFile(path, "3");
    },
    setWallClock(ms) {
      return clockSettime(CLOCK_REALTIME, timespecOf(ms));
    },
    anonymousKb: () => anonymousKb(),
    collectGarbage: () => collectGarbage(),
  };
}

/** Why writing drop_caches failed, in words an operator can act on. */
export function dropCachesDetail(e: unknown, path: string): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === "EACCES" || code === "EPERM") return `not permitted (${code}): dropping the page cache needs root; the snapshot keeps it`;
  if (code === "EROFS") return `read-only (EROFS): ${path} is on a read-only mount (a container?); the snapshot keeps the page cache`;
  if (code === "ENOENT") return `${path} does not exist; the snapshot keeps the page cache`;
  return `failed: ${describeError(e)}`;
}
