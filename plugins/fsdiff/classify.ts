// Classify one upper entry against the lower layers: created, modified, deleted, or a dir to enter.

import { closeSync, constants, lstatSync, openSync, readdirSync, type Dirent } from "node:fs";
import type { EntryType, FsChange, WalkError } from "./schemas.ts";
import { readdirFd } from "./dirents.ts";
import { createStatAt, type StatLike } from "./stat.ts";
import { lgetxattr, type XattrReader } from "./xattr.ts";

/** The file-system calls the walk makes: the real ones, or a test's faults (EACCES, vanishing files). */
export interface WalkPort {
  readdir(dir: string): Dirent[];
  /** undefined when the path does not exist; throws on other errors. */
  lstat(path: string): StatLike | undefined;
  /** lstat of `dir/name`, when the port has a faster way than `lstat` (a fd per directory). */
  lstatIn?(dir: string, name: string): StatLike | undefined;
  getxattr: XattrReader;
  /** Release what the port holds (directory fds); called when the walk ends. */
  close?(): void;
}

/** The real calls with node's lstat, one path at a time (tests wrap it to inject faults). */
export const realPort: WalkPort = {
  readdir: (dir) => readdirSync(dir, { withFileTypes: true }),
  lstat: (p) => lstatSync(p, { throwIfNoEntry: false }),
  getxattr: lgetxattr,
};

/**
 * List a directory without following a symlink in its place: open it with O_NOFOLLOW, then list the
 * open fd (getdents64 on it, else through /proc/self/fd), so a swap after the open cannot redirect the listing.
 * @example readdirNoFollow("/overlay/upper/etc") // Dirent[]; throws if etc is now a symlink
 */
export function readdirNoFollow(dir: string): Dirent[] {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP" || code === "ENOTDIR") throw new Error(`${code}: ${dir} is no longer a directory (replaced during the walk?)`);
    throw e;
  }
  try {
    return readdirFd(fd, dir) ?? readdirSync(`/proc/self/fd/${fd}`, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return readdirSync(dir, { withFileTypes: true }); // no /proc
    throw e;
  } finally {
    closeSync(fd);
  }
}

/** The real calls with the fast lstat (statx relative to cached directory fds); close it after the walk. */
export function createRealPort(): WalkPort {
  const stat = createStatAt();
  return { readdir: readdirNoFollow, lstat: stat.lstat, lstatIn: stat.lstatIn, getxattr: lgetxattr, close: stat.close };
}

export const OPQ_MARKER = ".wh..wh..opq";

export interface Frame {
  rel: string;
  abs: string;
  lowers: string[];
  opaque: boolean;
  /** The dir may hold xattr whiteouts (opaque=x, or the 6.7 `whiteouts` marker): check zero-size files. */
  xwh: boolean;
  /** Listings of the lower dirs (read when the upper dir is large or opaque), aligned with `lowers`. */
  lowerMaps?: (Map<string, Dirent> | undefined)[];
  items: Item[];
  i: number;
}

export interface Ent {
  name: string;
  dirent?: Dirent;
  /** From a `.wh.NAME` file. */
  wh?: boolean;
  /** In the lower of an opaque directory but not in the upper. */
  lowerOnly?: boolean;
  done?: Classified;
  /** Entries of this directory, read early (lower unknown: an empty upper dir is reported). */
  children?: Dirent[];
}

export interface Item {
  key: string;
  ent: Ent;
  sub: boolean;
}

export interface Classified {
  change?: FsChange;
  error?: WalkError;
  child?: { abs: string; rel: string; lowers: string[]; opaque: boolean; xwh: boolean };
}

function typeOf(st: StatLike): EntryType {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  return "other";
}

export function isWhiteoutStat(st: StatLike): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

export function direntIsDir(d: Dirent, port: WalkPort, abs: string): boolean {
  if (d.isDirectory()) return true;
  if (d.isFile() || d.isSymbolicLink() || d.isCharacterDevice() || d.isBlockDevice() || d.isFIFO() || d.isSocket()) return false;
  // DT_UNKNOWN (some file systems): ask lstat.
  try {
    return port.lstat(abs)?.isDirectory() ?? false;
  } catch {
    return false;
  }
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface ClassifyOptions {
  lowerKnown: boolean;
  /** The overlay workdir, skipped when it sits inside the upper dir. */
  work?: string;
  /** `trusted.overlay.` or `user.overlay.`. */
  prefix: string;
  port: WalkPort;
}

/**
 * The per-entry rules of docs/fsdiff.md, bound to a port. `classify` memoizes on the entry.
 * @example const { classify } = classifier({ lowerKnown: true, prefix: "trusted.overlay.", port }); classify(frame, ent)
 */
export function classifier(o: ClassifyOptions) {
  const port = o.port;
  const prefix = o.prefix;

  /** The kind of a lower entry by lstat; undefined when absent or unreadable. */
  const statKind = (p: string): EntryType | "whiteout" | undefined => {
    let s: StatLike | undefined;
    try {
      s = port.lstat(p);
    } catch {
      return undefined;
    }
    return s ? (isWhiteoutStat(s) ? "whiteout" : typeOf(s)) : undefined;
  };

  const direntKind = (d: Dirent, p: string): EntryType | "whiteout" | undefined => {
    if (d.isFile()) return "file";
    if (d.isDirectory()) return "dir";
    if (d.isSymbolicLink()) return "symlink";
    if (d.isBlockDevice() || d.isFIFO() || d.isSocket()) return "other";
    return statKind(p); // char devices (whiteouts?) and DT_UNKNOWN
  };

  /** The kind of `name` in layer i of this frame's lowers (listing when there is one, else lstat). */
  const kindIn = (f: Frame, i: number, name: string): EntryType | "whiteout" | undefined => {
    const p = f.lowers[i] + "/" + name;
    const m = f.lowerMaps?.[i];
    if (!m) return statKind(p);
    const d = m.get(name);
    return d ? direntKind(d, p) : undefined;
  };

  /** What the lower layers have at `name`: the top layer that has it decides; a whiteout hides the rest. */
  const lowerType = (f: Frame, name: string): EntryType | undefined => {
    for (let i = 0; i < f.lowers.length; i++) {
      const k = kindIn(f, i, name);
      if (k) return k === "whiteout" ? undefined : k;
    }
    return undefined;
  };

  /** The lower dirs at `name`, top first, down to the first layer where a non-dir hides the rest. */
  const lowerDirs = (f: Frame, name: string): string[] => {
    const dirs: string[] = [];
    for (let i = 0; i < f.lowers.length; i++) {
      const k = kindIn(f, i, name);
      if (!k) continue;
      if (k !== "dir") break;
      dirs.push(f.lowers[i] + "/" + name);
    }
    return dirs;
  };

  const deleted = (f: Frame, name: string, rel: string): Classified => ({
    change: { path: rel, kind: "deleted", type: lowerType(f, name) ?? "other", size: 0 },
  });

  const xattr = (abs: string, name: string): string | null => {
    try {
      return port.getxattr(abs, prefix + name);
    } catch {
      return null;
    }
  };

  /** Kernels mark a dir holding xattr whiteouts with opaque=x (6.8+) or a `whiteouts` xattr (6.7). */
  const holdsXattrWhiteouts = (abs: string, opq: string | null): boolean => opq === "x" || (opq === null && xattr(abs, "whiteouts") !== null);

  const classify = (f: Frame, ent: Ent): Classified => {
    if (ent.done) return ent.done;
    const rel = f.rel + "/" + ent.name;
    const abs = f.abs + "/" + ent.name;
    if (ent.wh || ent.lowerOnly) return (ent.done = deleted(f, ent.name, rel));
    let st: StatLike | undefined;
    try {
      st = port.lstatIn ? port.lstatIn(f.abs, ent.name) : port.lstat(abs);
    } catch (e) {
      return (ent.done = { error: { path: rel, message: message(e) } });
    }
    if (!st) {
      // A name that is not valid UTF-8 arrives with U+FFFD and cannot be looked up (or sent) as is.
      if (ent.name.includes("\uFFFD")) return (ent.done = { error: { path: rel, message: "name is not valid UTF-8; not reported" } });
      return (ent.done = {}); // vanished during the walk: nothing to report
    }
    if (isWhiteoutStat(st) || (f.xwh && st.isFile() && st.size === 0 && xattr(abs, "whiteout") !== null)) {
      return (ent.done = deleted(f, ent.name, rel));
    }
    const found = f.lowers.length > 0 ? lowerType(f, ent.name) : undefined;
    if (!st.isDirectory()) {
      return (ent.done = { change: { path: rel, kind: found ? "modified" : "created", type: typeOf(st), size: st.size } });
    }
    if (o.work !== undefined && abs === o.work) return (ent.done = {});
    const dirChange = (kind: "created" | "modified"): FsChange => ({ path: rel, kind, type: "dir", size: 0 });
    const opq = xattr(abs, "opaque");
    const opaqueAttr = opq === "y";
    const xwh = holdsXattrWhiteouts(abs, opq);
    const marker = () => {
      try {
        return port.lstat(abs + "/" + OPQ_MARKER) !== undefined;
      } catch {
        return false;
      }
    };
    if (!o.lowerKnown) {
      // Without a lower, a copied-up parent cannot be told from a new dir; report the dirs that are
      // certainly changes: opaque ones and empty ones (new, or copied up for their own metadata).
      let report = opaqueAttr;
      if (!report) {
        try {
          ent.children = port.readdir(abs);
          report = ent.children.length === 0 || ent.children.some((d) => d.name === OPQ_MARKER);
        } catch {
          report = false; // the read error is reported when the walk enters it
        }
      }
      return (ent.done = { change: report ? dirChange("created") : undefined, child: { abs, rel, lowers: [], opaque: false, xwh } });
    }
    if (!found) return (ent.done = { change: dirChange("created"), child: { abs, rel, lowers: [], opaque: false, xwh } });
    if (found !== "dir") return (ent.done = { change: dirChange("modified"), child: { abs, rel, lowers: [], opaque: false, xwh } });
    const opaque = f.opaque || opaqueAttr || marker();
    const dirs = lowerDirs(f, ent.name);
    let lst: StatLike | undefined;
    try {
      lst = port.lstat(dirs[0]!);
    } catch {
      lst = undefined;
    }
    const metaChanged = lst !== undefined && (lst.mode !== st.mode || lst.uid !== st.uid || lst.gid !== st.gid);
    return (ent.done = {
      change: opaque || metaChanged ? dirChange("modified") : undefined,
      child: { abs, rel, lowers: dirs, opaque, xwh },
    });
  };

  return { classify, xattr, holdsXattrWhiteouts };
}
