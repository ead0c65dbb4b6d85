// Test helpers for fsdiff: build synthetic layers (files, kernel and OCI whiteouts, opaque dirs) on disk.

import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { walkUpper, type WalkOptions } from "./walk.ts";
import type { FsChange } from "./schemas.ts";
import { lsetxattr } from "./xattr.ts";

/**
 * One layer described by paths: "dir/" makes a directory, "name" a file holding its own path,
 * "name -> target" a symlink, "name=c00" a kernel whiteout (char device 0:0).
 */
export function layer(root: string, specs: string[]): string {
  mkdirSync(root, { recursive: true });
  for (const s of specs) {
    const arrow = s.indexOf(" -> ");
    if (arrow > 0) {
      const p = join(root, s.slice(0, arrow));
      mkdirSync(dirname(p), { recursive: true });
      symlinkSync(s.slice(arrow + 4), p);
    } else if (s.endsWith("=c00")) {
      const p = join(root, s.slice(0, -4));
      mkdirSync(dirname(p), { recursive: true });
      mknodWhiteout(p);
    } else if (s.endsWith("/")) mkdirSync(join(root, s), { recursive: true });
    else {
      const p = join(root, s);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, s);
    }
  }
  return root;
}

/** A kernel whiteout: character device 0:0 (needs root). */
export function mknodWhiteout(path: string): void {
  const r = Bun.spawnSync(["mknod", path, "c", "0", "0"]);
  if (r.exitCode !== 0) throw new Error(`mknod ${path}: ${r.stderr.toString()}`);
}

/** Mark a directory opaque the kernel's way. */
export function setOpaque(dir: string, value = "y"): void {
  lsetxattr(dir, "trusted.overlay.opaque", value);
}

/** Run a whole walk and return its changes and errors, in order. */
export function walkAll(o: WalkOptions): { changes: FsChange[]; errors: { path: string; message: string }[]; keys: string[] } {
  const changes: FsChange[] = [];
  const errors: { path: string; message: string }[] = [];
  const keys: string[] = [];
  for (const item of walkUpper(o)) {
    keys.push(item.key);
    if (item.change) changes.push(item.change);
    else errors.push(item.error);
  }
  return { changes, errors, keys };
}

/** `kind type path` lines, compact for expectations. */
export function lines(changes: FsChange[]): string[] {
  return changes.map((c) => `${c.kind} ${c.type} ${c.path}${c.size ? ` ${c.size}` : ""}`);
}

/** True when running as root (mknod, trusted xattrs, mount). */
export const isRoot = process.getuid?.() === 0;

/** A temp dir on tmpfs (/dev/shm) when there is one: creating tens of thousands of files on a busy disk is slow. */
export function fastTempDir(prefix: string): { path: string; cleanup(): void } {
  let base = tmpdir();
  try {
    accessSync("/dev/shm", constants.W_OK);
    base = "/dev/shm";
  } catch {}
  const path = mkdtempSync(join(base, prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}
