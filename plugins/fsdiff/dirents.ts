// A directory's entries read from an open fd with getdents64(2) through bun:ffi: no path lookup per listing.

import type { Dirent } from "node:fs";
import { dlopen, FFIType } from "bun:ffi";
import { errnoError, loadLibc } from "./libc.ts";

const DT_FIFO = 1;
const DT_CHR = 2;
const DT_DIR = 4;
const DT_BLK = 6;
const DT_REG = 8;
const DT_LNK = 10;
const DT_SOCK = 12;

/** What the walk reads of a Dirent: its name and d_type (DT_UNKNOWN answers false to every question). */
class FdDirent {
  constructor(
    readonly name: string,
    private readonly type: number,
    readonly parentPath: string,
  ) {}
  get path(): string {
    return this.parentPath;
  }
  isFile(): boolean {
    return this.type === DT_REG;
  }
  isDirectory(): boolean {
    return this.type === DT_DIR;
  }
  isSymbolicLink(): boolean {
    return this.type === DT_LNK;
  }
  isCharacterDevice(): boolean {
    return this.type === DT_CHR;
  }
  isBlockDevice(): boolean {
    return this.type === DT_BLK;
  }
  isFIFO(): boolean {
    return this.type === DT_FIFO;
  }
  isSocket(): boolean {
    return this.type === DT_SOCK;
  }
}

/** getdents64's syscall number; raw `syscall(2)` is in glibc and musl alike (musl has no getdents64 symbol). */
const SYS_GETDENTS64: Partial<Record<string, number>> = { x64: 217, arm64: 61 };
const LIBC_NAMES = ["libc.so.6", `libc.musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`, "libc.so"];

type Getdents = (fd: number, buf: Uint8Array, size: number) => number;
let getdents: Getdents | null | undefined;

function load(): Getdents | null {
  if (getdents !== undefined) return getdents;
  getdents = null;
  const nr = SYS_GETDENTS64[process.arch];
  if (nr === undefined || process.platform !== "linux") return null;
  for (const name of LIBC_NAMES) {
    try {
      const lib = dlopen(name, { syscall: { args: [FFIType.i64, FFIType.i64, FFIType.ptr, FFIType.i64], returns: FFIType.i64 } });
      getdents = (fd, buf, size) => Number(lib.symbols.syscall(nr, fd, buf, size));
      return getdents;
    } catch {
      // next name
    }
  }
  return null;
}

const buf = new Uint8Array(64 * 1024);
const view = new DataView(buf.buffer);
const decoder = new TextDecoder(); // not fatal: a name that is not UTF-8 gets U+FFFD, as readdirSync gives it

/**
 * The entries of the directory open at `fd` (`.` and `..` left out), or null when getdents64 cannot be
 * called here (the caller lists another way). Throws on a read error. `dir` is only the entries' parentPath.
 * @example readdirFd(fd, "/overlay/upper/etc") // [{ name: "hosts", isFile() ... }, ...]
 */
export function readdirFd(fd: number, dir: string): Dirent[] | null {
  const call = load();
  if (!call) return null;
  const out: Dirent[] = [];
  for (;;) {
    const n = call(fd, buf, buf.length);
    if (n === 0) return out;
    if (n < 0) {
      const errno = loadLibc()?.errno();
      throw errno !== undefined ? errnoError(errno, `getdents64 ${dir}`) : new Error(`getdents64 ${dir} failed`);
    }
    for (let off = 0; off < n; ) {
      const reclen = view.getUint16(off + 16, true);
      const type = buf[off + 18]!;
      let end = off + 19;
      while (buf[end] !== 0) end++;
      const len = end - off - 19;
      const dot = buf[off + 19] === 0x2e && (len === 1 || (len === 2 && buf[off + 20] === 0x2e));
      if (!dot) out.push(new FdDirent(ascii(off + 19, end) ?? decoder.decode(buf.subarray(off + 19, end)), type, dir) as unknown as Dirent);
      off += reclen;
    }
  }
}

/** The name as a string when every byte is ASCII (the common case, without a decoder call); else undefined. */
function ascii(start: number, end: number): string | undefined {
  if (end - start > 64) return undefined;
  for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return undefined;
  return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
}
