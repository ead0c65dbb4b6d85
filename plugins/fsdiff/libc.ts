// libc through bun:ffi: the loader, errno, and C strings in reused buffers (for xattrs and statx).

import { dlopen, FFIType, ptr, read } from "bun:ffi";

/** libc names to try: glibc first, then musl (Alpine images). */
const LIBC_NAMES = ["libc.so.6", `libc.musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`, "libc.so"];

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  5: "EIO",
  13: "EACCES",
  20: "ENOTDIR",
  34: "ERANGE",
  36: "ENAMETOOLONG",
  40: "ELOOP",
  61: "ENODATA",
  95: "ENOTSUP",
};

export interface Libc {
  lgetxattr(path: Uint8Array, name: Uint8Array, value: Uint8Array, size: number): number;
  lsetxattr(path: Uint8Array, name: Uint8Array, value: Uint8Array, size: number, flags: number): number;
  /** statx(2), or undefined when this libc lacks it (old musl). */
  statx?: (dirfd: number, path: Uint8Array, flags: number, mask: number, out: Uint8Array) => number;
  errno(): number;
}

let libc: Libc | null | undefined;
let loadError = "";

/** The loaded libc, or null when none could be opened (see `libcError`). */
export function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  for (const name of LIBC_NAMES) {
    try {
      const lib = dlopen(name, {
        lgetxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
        lsetxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
        __errno_location: { args: [], returns: FFIType.ptr },
      });
      let statx: Libc["statx"];
      try {
        const s = dlopen(name, { statx: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.u32, FFIType.ptr], returns: FFIType.i32 } });
        statx = (fd, p, flags, mask, out) => s.symbols.statx(fd, ptr(p), flags, mask, ptr(out));
      } catch {
        statx = undefined;
      }
      libc = {
        lgetxattr: (p, n, v, s) => Number(lib.symbols.lgetxattr(ptr(p), ptr(n), ptr(v), s)),
        lsetxattr: (p, n, v, s, f) => lib.symbols.lsetxattr(ptr(p), ptr(n), ptr(v), s, f),
        statx,
        errno: () => read.i32(lib.symbols.__errno_location()!, 0),
      };
      return libc;
    } catch (e) {
      loadError = `${name}: ${(e as Error).message}`;
    }
  }
  libc = null;
  return null;
}

/** Why libc could not be loaded ("" when it was). */
export function libcError(): string {
  loadLibc();
  return loadError;
}

/** An Error shaped like node's (`code`, `errno`) for a failed libc call. */
export function errnoError(errno: number, what: string): NodeJS.ErrnoException {
  const code = ERRNO_NAMES[errno] ?? `errno ${errno}`;
  const err = new Error(`${code}: ${what}`) as NodeJS.ErrnoException;
  err.errno = errno;
  err.code = code;
  return err;
}

/** A NUL-terminated copy. */
export function cstr(s: string): Uint8Array {
  return Buffer.from(s + "\0", "utf8");
}

const encoder = new TextEncoder();

/** Encode `s` NUL-terminated into `buf` when it fits (no allocation), else a fresh copy. */
export function cstrInto(s: string, buf: Uint8Array): Uint8Array {
  if (s.length * 3 >= buf.length) return cstr(s);
  const { written } = encoder.encodeInto(s, buf);
  buf[written] = 0;
  return buf;
}
