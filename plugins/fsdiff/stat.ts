// Fast lstat for walks: statx(2) through bun:ffi relative to cached directory fds (short kernel lookups, no Stats objects).

import { closeSync, constants, lstatSync, openSync } from "node:fs";
import { cstrInto, errnoError, loadLibc } from "./libc.ts";

/** The part of node's Stats the walk reads (node's Stats satisfies it too). */
export interface StatLike {
  readonly size: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** 0 exactly when the device number is 0:0. */
  readonly rdev: number;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isCharacterDevice(): boolean;
}

const S_IFMT = 0o170000;

class LiteStat implements StatLike {
  constructor(
    readonly mode: number,
    readonly size: number,
    readonly uid: number,
    readonly gid: number,
    readonly rdev: number,
  ) {}
  isFile(): boolean {
    return (this.mode & S_IFMT) === 0o100000;
  }
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === 0o040000;
  }
  isSymbolicLink(): boolean {
    return (this.mode & S_IFMT) === 0o120000;
  }
  isCharacterDevice(): boolean {
    return (this.mode & S_IFMT) === 0o020000;
  }
}

/** lstat by path, plus `close()` to release the directory fds it keeps. */
export interface StatAt {
  lstat(path: string): StatLike | undefined;
  /**
   * lstat of `dir + "/" + name` (`name` a single component). A walk passes the same `dir` string for a
   * directory's entries: its fd is found without cutting the path apart, or hashing a new string, per entry.
   */
  lstatIn(dir: string, name: string): StatLike | undefined;
  close(): void;
}

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const STATX_MASK = 0x1 | 0x2 | 0x8 | 0x10 | 0x200; // type, mode, uid, gid, size
const ENOENT = 2;
const ENOTDIR = 20;
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

function nodeLstat(path: string): StatLike | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw e;
  }
}

/**
 * An lstat that keeps up to `maxFds` directory fds open (a walk stats one directory's entries in a
 * row) and asks statx for the name relative to it. Falls back to node's lstat without statx.
 * Absent paths (ENOENT, ENOTDIR) give undefined. Call `close()` when the walk ends.
 * @example const s = createStatAt(); try { s.lstat("/overlay/upper/etc/hosts")?.size } finally { s.close() }
 */
export function createStatAt(maxFds = 8): StatAt {
  const c = loadLibc();
  const statx = c?.statx;
  if (!c || !statx) return { lstat: nodeLstat, lstatIn: (dir, name) => nodeLstat(dir + "/" + name), close: () => {} };
  const fds = new Map<string, number>();
  const out = new Uint8Array(256);
  const view = new DataView(out.buffer);
  const nameBuf = new Uint8Array(16 * 1024);

  const dirFd = (dir: string): number => {
    let fd = fds.get(dir);
    if (fd !== undefined) return fd;
    try {
      fd = openSync(dir, DIR_FLAGS);
    } catch {
      fd = AT_FDCWD; // not openable as a real directory: stat by full path instead
    }
    if (fds.size >= maxFds) {
      const [oldDir, oldFd] = fds.entries().next().value as [string, number];
      fds.delete(oldDir);
      if (oldFd >= 0) closeSync(oldFd);
    }
    fds.set(dir, fd);
    return fd;
  };

  /** statx of `name` relative to `fd` (a full path when fd is AT_FDCWD, `dir` then null); errors name `dir/name`. */
  const statAt = (fd: number, name: string, dir: string | null): StatLike | undefined => {
    if (statx(fd, cstrInto(name, nameBuf), AT_SYMLINK_NOFOLLOW, STATX_MASK, out) !== 0) {
      const errno = c.errno();
      if (errno === ENOENT || errno === ENOTDIR) return undefined;
      throw errnoError(errno, `lstat ${dir === null ? name : `${dir}/${name}`}`);
    }
    const size = view.getUint32(40, true) + view.getUint32(44, true) * 2 ** 32;
    const rdev = view.getUint32(128, true) * 2 ** 20 + view.getUint32(132, true);
    return new LiteStat(view.getUint16(28, true), size, view.getUint32(20, true), view.getUint32(24, true), rdev);
  };

  return {
    lstat(path) {
      const slash = path.lastIndexOf("/");
      const dir = slash > 0 ? path.slice(0, slash) : "/";
      const fd = dirFd(dir);
      return fd === AT_FDCWD ? statAt(fd, path, null) : statAt(fd, path.slice(slash + 1), slash > 0 ? dir : "");
    },
    lstatIn(dir, name) {
      const fd = dirFd(dir === "" ? "/" : dir);
      return fd === AT_FDCWD ? statAt(fd, dir + "/" + name, null) : statAt(fd, name, dir);
    },
    close() {
      for (const fd of fds.values()) if (fd >= 0) closeSync(fd);
      fds.clear();
    },
  };
}
