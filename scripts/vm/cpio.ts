// A tiny writer of the cpio "newc" format, the one the Linux kernel unpacks as an initramfs.

import { closeSync, openSync, readSync, writeSync } from "node:fs";

/** One entry of the archive; parents must come before children. */
export type CpioEntry =
  | { kind: "dir"; path: string; mode?: number }
  | { kind: "file"; path: string; mode?: number; data: string | Uint8Array }
  /** A file copied from the host in chunks (large binaries are never held in memory). */
  | { kind: "copy"; path: string; mode?: number; from: string; size: number }
  | { kind: "symlink"; path: string; target: string }
  | { kind: "chardev"; path: string; mode?: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, "0");

/**
 * Write a newc archive to `out`, entries in order, ending with the TRAILER!!! record.
 * @example writeCpio("/tmp/initrd.cpio", [{ kind: "dir", path: "bin" }, { kind: "file", path: "init", mode: 0o755, data: "#!/bin/sh\n" }]);
 */
export function writeCpio(out: string, entries: CpioEntry[]): number {
  const fd = openSync(out, "w", 0o644);
  let offset = 0;
  const put = (b: Uint8Array) => {
    let done = 0;
    while (done < b.length) done += writeSync(fd, b, done, b.length - done);
    offset += b.length;
  };
  const pad = () => {
    const n = (4 - (offset % 4)) % 4;
    if (n) put(new Uint8Array(n));
  };
  let ino = 1;
  const header = (path: string, mode: number, size: number, rdev: [number, number] = [0, 0]) => {
    const name = Buffer.from(path + "\0");
    const fields = [ino++, mode, 0, 0, 1, 0, size, 0, 0, rdev[0], rdev[1], name.length, 0];
    put(Buffer.from("070701" + fields.map(hex).join("")));
    put(name);
    pad();
  };
  try {
    for (const e of entries) {
      const path = e.path.replace(/^\/+/, "");
      switch (e.kind) {
        case "dir":
          header(path, S_IFDIR | (e.mode ?? 0o755), 0);
          break;
        case "symlink": {
          const t = Buffer.from(e.target);
          header(path, S_IFLNK | 0o777, t.length);
          put(t);
          pad();
          break;
        }
        case "chardev":
          header(path, S_IFCHR | (e.mode ?? 0o600), 0, [e.major, e.minor]);
          break;
        case "file": {
          const data = typeof e.data === "string" ? Buffer.from(e.data) : e.data;
          header(path, S_IFREG | (e.mode ?? 0o644), data.length);
          put(data);
          pad();
          break;
        }
        case "copy": {
          header(path, S_IFREG | (e.mode ?? 0o644), e.size);
          const src = openSync(e.from, "r");
          try {
            const buf = Buffer.allocUnsafe(1 << 20);
            let left = e.size;
            while (left > 0) {
              const n = readSync(src, buf, 0, Math.min(buf.length, left), null);
              if (n <= 0) throw new Error(`${e.from}: shorter than ${e.size} bytes (changed while archiving?)`);
              put(buf.subarray(0, n));
              left -= n;
            }
          } finally {
            closeSync(src);
          }
          pad();
          break;
        }
      }
    }
    header("TRAILER!!!", 0, 0);
  } finally {
    closeSync(fd);
  }
  return offset;
}
