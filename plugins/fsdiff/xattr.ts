// lgetxattr(2)/lsetxattr(2) through bun:ffi: extended attributes without following symlinks.

import { cstr, cstrInto, errnoError, libcError, loadLibc } from "./libc.ts";

/** Reads one xattr; null when the entry does not carry it. Throws on other failures. */
export type XattrReader = (path: string, name: string) => string | null;

const ENODATA = 61;
const ENOTSUP = 95;
const ERANGE = 34;

/** Why xattrs cannot be read here, or null when they can. */
export function xattrUnavailable(): string | null {
  return loadLibc() ? null : `cannot load libc for lgetxattr (${libcError()})`;
}

// Reused buffers: one call per directory of a walk, so avoid allocating.
const names = new Map<string, Uint8Array>();
const pathBuf = new Uint8Array(16 * 1024);
const value = new Uint8Array(256);

function nameC(n: string): Uint8Array {
  let b = names.get(n);
  if (!b) names.set(n, (b = cstr(n)));
  return b;
}

/**
 * The real reader. Absent attribute (ENODATA) and file systems without xattrs (ENOTSUP) give null.
 * @example lgetxattr("/overlay/upper/etc", "trusted.overlay.opaque") // "y" or null
 */
export const lgetxattr: XattrReader = (path, name) => {
  const c = loadLibc();
  if (!c) return null;
  const n = c.lgetxattr(cstrInto(path, pathBuf), nameC(name), value, value.length);
  if (n >= 0) return Buffer.from(value.buffer, 0, n).toString("latin1");
  const errno = c.errno();
  if (errno === ENODATA || errno === ENOTSUP) return null;
  if (errno === ERANGE) return "?"; // present, longer than we read: callers only compare short values
  throw errnoError(errno, `lgetxattr ${name} of ${path}`);
};

/** Set an xattr without following symlinks (tests and tools build synthetic upper dirs with it). */
export function lsetxattr(path: string, name: string, text: string): void {
  const c = loadLibc();
  if (!c) throw new Error(xattrUnavailable()!);
  const v = Buffer.from(text, "utf8");
  if (c.lsetxattr(cstr(path), cstr(name), v.length ? v : new Uint8Array(1), v.length, 0) !== 0) {
    throw errnoError(c.errno(), `lsetxattr ${name} of ${path}`);
  }
}
