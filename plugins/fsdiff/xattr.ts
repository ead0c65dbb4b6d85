// lgetxattr(2) through bun:ffi: read an extended attribute without following symlinks.

import { dlopen, FFIType, ptr, read } from "bun:ffi";

/** Reads one xattr; null when the entry does not carry it. Throws on other failures. */
export type XattrReader = (path: string, name: string) => string | null;

const ENODATA = 61;
const ENOTSUP = 95;
const ERANGE = 34;
const ERRNO_NAMES: Record<number, string> = { 1: "EPERM", 2: "ENOENT", 5: "EIO", 13: "EACCES", 20: "ENOTDIR", 36: "ENAMETOOLONG", 40: "ELOOP" };

/** libc names to try: glibc first, then musl (Alpine images). */
const LIBC_NAMES = ["libc.so.6", `libc.musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`, "libc.so"];

interface Libc {
  lgetxattr(path: Uint8Array, name: Uint8Array, value: Uint8Array, size: number): number;
  lsetxattr(path: Uint8Array, name: Uint8Array, value: Uint8Array, size: number, flags: number): number;
  errno(): number;
}

let libc: Libc | null | undefined;
let loadError = "";

function load(): Libc | null {
  if (libc !== undefined) return libc;
  for (const name of LIBC_NAMES) {
    try {
      const lib = dlopen(name, {
        lgetxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
        lsetxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
        __errno_location: { args: [], returns: FFIType.ptr },
      });
      libc = {
        lgetxattr: (p, n, v, s) => Number(lib.symbols.lgetxattr(ptr(p), ptr(n), ptr(v), s)),
        lsetxattr: (p, n, v, s, f) => lib.symbols.lsetxattr(ptr(p), ptr(n), ptr(v), s, f),
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

/** Why xattrs cannot be read here, or null when they can. */
export function xattrUnavailable(): string | null {
  return load() ? null : `cannot load libc for lgetxattr (${loadError})`;
}

function cstr(s: string): Uint8Array {
  return Buffer.from(s + "\0", "utf8");
}

// Reused buffers: one call per zero-size file or directory of a walk, so avoid allocating.
const names = new Map<string, Uint8Array>();
const pathBuf = new Uint8Array(16 * 1024);
const encoder = new TextEncoder();

function pathC(p: string): Uint8Array {
  if (p.length * 3 >= pathBuf.length) return cstr(p);
  const { written } = encoder.encodeInto(p, pathBuf);
  pathBuf[written] = 0;
  return pathBuf;
}

function nameC(n: string): Uint8Array {
  let b = names.get(n);
  if (!b) names.set(n, (b = cstr(n)));
  return b;
}

const value = new Uint8Array(256);

/**
 * The real reader. Absent attribute (ENODATA) and file systems without xattrs (ENOTSUP) give null.
 * @example lgetxattr("/overlay/upper/etc", "trusted.overlay.opaque") // "y" or null
 */
export const lgetxattr: XattrReader = (path, name) => {
  const c = load();
  if (!c) return null;
  const n = c.lgetxattr(pathC(path), nameC(name), value, value.length);
  if (n >= 0) return Buffer.from(value.buffer, 0, n).toString("latin1");
  const errno = c.errno();
  if (errno === ENODATA || errno === ENOTSUP) return null;
  if (errno === ERANGE) return "?"; // present, longer than we read: callers only compare short values
  const code = ERRNO_NAMES[errno] ?? `errno ${errno}`;
  const err = new Error(`${code}: lgetxattr ${name} of ${path}`) as NodeJS.ErrnoException;
  err.errno = errno;
  err.code = code;
  throw err;
};

/** Set an xattr without following symlinks (tests and tools build synthetic upper dirs with it). */
export function lsetxattr(path: string, name: string, text: string): void {
  const c = load();
  if (!c) throw new Error(xattrUnavailable()!);
  const v = Buffer.from(text + "\0", "utf8");
  if (c.lsetxattr(cstr(path), cstr(name), v, v.length - 1, 0) !== 0) throw new Error(`lsetxattr ${path} ${name}: errno ${c.errno()}`);
}
