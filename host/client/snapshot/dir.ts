// Snapshot directories: path text checks, the confinement of bridge requests under --snapshot-dir, and preparing a target.

import { lstatSync, mkdirSync, realpathSync } from "node:fs";
import { isAbsolute, join, resolve, sep } from "node:path";
import { hasControl, printable } from "../printable.ts";
import { MANIFEST_FILE } from "./manifest.ts";

/** A snapshot directory that cannot be used; the message says why and what to do. */
export class SnapshotDirError extends Error {
  constructor(
    message: string,
    /** `exists`: it already holds a snapshot (not a usage error: the user may mean to keep it). */
    readonly reason: "bad-path" | "exists" | "not-a-dir" | "escapes" = "bad-path",
  ) {
    super(message);
    this.name = "SnapshotDirError";
  }
}

/**
 * A DIR given on the command line, made absolute. Empty text, control characters (a newline in a
 * path ends up in logs, shells and QEMU's exec: command line) and over-long paths are refused.
 * @example checkDirText("snaps/web1", "/root") // "/root/snaps/web1"
 */
export function checkDirText(dir: string, cwd: string, flag = "DIR"): string {
  if (dir.trim() === "") throw new SnapshotDirError(`${flag}: empty path`);
  if (hasControl(dir)) throw new SnapshotDirError(`${flag}: the path holds control characters: ${printable(dir, 200)}`);
  if (dir.length > 4096) throw new SnapshotDirError(`${flag}: the path is over 4096 characters`);
  return resolve(cwd, dir);
}

/** One segment of a bridge snapshot name: starts with a letter or digit, then letters, digits, `.`, `_`, `-`. */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const RELATIVE_DIR_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9][A-Za-z0-9._-]{0,127}){0,7}$";

/**
 * A directory a web client names (`web1/2026-11-28`), confined under the bridge's `--snapshot-dir`
 * root: at most 8 segments of `[A-Za-z0-9][A-Za-z0-9._-]*` (so no `..`, no `.hidden`, no absolute
 * path, no empty segment, no control character), and no symlink on the way (a link planted under the
 * root must not lead the VMM's writes elsewhere). The root itself may be a symlink.
 * @example confineDir("/srv/snapshots", "web1/2026-11-28") // "/srv/snapshots/web1/2026-11-28"
 */
export function confineDir(root: string, rel: string): string {
  if (typeof rel !== "string" || rel === "") throw new SnapshotDirError("empty snapshot name", "escapes");
  if (isAbsolute(rel) || rel.startsWith("~")) throw new SnapshotDirError(`"${printable(rel, 200)}" is absolute: name a directory under the bridge's --snapshot-dir`, "escapes");
  const parts = rel.split("/");
  if (parts.length > 8 || !parts.every((p) => SEGMENT.test(p)))
    throw new SnapshotDirError(`"${printable(rel, 200)}": a snapshot name is 1 to 8 segments of A-Z a-z 0-9 . _ - separated by /, each starting with a letter or digit (no .., no hidden names)`, "escapes");
  let base: string;
  try {
    base = realpathSync(root);
  } catch (e) {
    throw new SnapshotDirError(`the bridge's --snapshot-dir ${root} is not usable: ${(e as Error).message}`, "not-a-dir");
  }
  let at = base;
  for (const p of parts) {
    at = join(at, p);
    let st;
    try {
      st = lstatSync(at);
    } catch {
      break; // the rest does not exist yet: it is created under `at`'s parent, which is inside the root
    }
    if (st.isSymbolicLink()) throw new SnapshotDirError(`${JSON.stringify(rel)}: ${at} is a symlink; snapshot directories under --snapshot-dir may not go through links`, "escapes");
    if (!st.isDirectory()) throw new SnapshotDirError(`${JSON.stringify(rel)}: ${at} is not a directory`, "not-a-dir");
  }
  const full = join(base, ...parts);
  if (!(full + sep).startsWith(base + sep)) throw new SnapshotDirError(`${JSON.stringify(rel)} leaves the snapshot root`, "escapes");
  return full;
}

/**
 * Make sure `dir` can take a new snapshot: create it (mode 0700: a snapshot holds guest memory) or
 * accept an existing directory; refuse one that already holds a snapshot unless `overwrite`.
 * Returns whether it was created.
 */
export function prepareTargetDir(dir: string, overwrite: boolean): { created: boolean; replaces: boolean } {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return { created: true, replaces: false };
  }
  if (!st.isDirectory()) throw new SnapshotDirError(`${dir} exists and is not a directory`, "not-a-dir");
  let holds = false;
  try {
    lstatSync(join(dir, MANIFEST_FILE));
    holds = true;
  } catch {}
  if (holds && !overwrite)
    throw new SnapshotDirError(`${dir} already holds a snapshot (${MANIFEST_FILE}); give another directory, or --overwrite to replace it (the old snapshot stays whole until the new one is)`, "exists");
  return { created: false, replaces: holds };
}
