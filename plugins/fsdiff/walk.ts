// The upper-dir walk: classify each entry against the lower layers, in path order, resumable after a key.

import { lstatSync, readdirSync, type Dirent } from "node:fs";
import type { EntryType, FsChange, WalkError } from "./schemas.ts";
import { comparatorFor, compareUtf8 } from "./order.ts";
import { createStatAt, type StatLike } from "./stat.ts";
import { lgetxattr, type XattrReader } from "./xattr.ts";

/** The file-system calls the walk makes: the real ones, or a test's faults (EACCES, vanishing files). */
export interface WalkPort {
  readdir(dir: string): Dirent[];
  /** undefined when the path does not exist; throws on other errors. */
  lstat(path: string): StatLike | undefined;
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

/** The real calls with the fast lstat (statx relative to cached directory fds); close it after the walk. */
export function createRealPort(): WalkPort {
  const stat = createStatAt();
  return { readdir: realPort.readdir, lstat: stat.lstat, getxattr: lgetxattr, close: stat.close };
}

/** One thing the walk found, with its sort key (the path; a directory's read error sorts as `path/`). */
export type WalkItem = { key: string; change: FsChange; error?: undefined } | { key: string; error: WalkError; change?: undefined };

export interface WalkOptions {
  upper: string;
  /** Lower layers, top first (empty when unknown). */
  lowers: string[];
  lowerKnown: boolean;
  /** The overlay workdir, skipped when it sits inside the upper dir. */
  work?: string;
  /** `trusted.overlay.` or `user.overlay.`. */
  xattrPrefix?: string;
  /** Resume strictly after this key (a cursor). */
  after?: string;
  /** True when nothing under this directory path can be wanted (an exclude such as `/tmp/**`). */
  prune?: (dirPath: string) => boolean;
  port?: WalkPort;
  /** Upper dirs with at least this many entries list their lower dirs instead of one lstat per entry (default 16). */
  listLowerAt?: number;
}

const OPQ_MARKER = ".wh..wh..opq";
const LIST_LOWER_AT = 16;

interface Frame {
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

interface Ent {
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

interface Item {
  key: string;
  ent: Ent;
  sub: boolean;
}

interface Classified {
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

function isWhiteoutStat(st: StatLike): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function direntIsDir(d: Dirent, port: WalkPort, abs: string): boolean {
  if (d.isDirectory()) return true;
  if (d.isFile() || d.isSymbolicLink() || d.isCharacterDevice() || d.isBlockDevice() || d.isFIFO() || d.isSocket()) return false;
  // DT_UNKNOWN (some file systems): ask lstat.
  try {
    return port.lstat(abs)?.isDirectory() ?? false;
  } catch {
    return false;
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Walk the upper dir in UTF-8 byte order of the reported paths, yielding changes and read errors.
 * Holds one directory listing per level of depth, never the whole tree.
 * @example for (const item of walkUpper({ upper: "/overlay/upper", lowers: ["/overlay/lower"], lowerKnown: true })) ...
 */
export function* walkUpper(o: WalkOptions): Generator<WalkItem> {
  const port = o.port ?? createRealPort();
  const prefix = o.xattrPrefix ?? "trusted.overlay.";
  // Cleared once the walk is past it: every later key is larger (the walk goes in key order).
  let after = o.after;
  const listLowerAt = o.listLowerAt ?? LIST_LOWER_AT;
  const stack: Frame[] = [];

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

  /** Where the lower layers have `name`: the top hit decides; dirs collect until a non-dir hides the rest. */
  const lowerLookup = (f: Frame, name: string): { found?: { type: EntryType; path: string }; dirs: string[] } => {
    const dirs: string[] = [];
    let found: { type: EntryType; path: string } | undefined;
    for (let i = 0; i < f.lowers.length; i++) {
      const p = f.lowers[i] + "/" + name;
      const m = f.lowerMaps?.[i];
      let k: EntryType | "whiteout" | undefined;
      if (m) {
        const d = m.get(name);
        k = d ? direntKind(d, p) : undefined;
      } else k = statKind(p);
      if (!k) continue;
      if (k === "whiteout") break;
      found ??= { type: k, path: p };
      if (k !== "dir") break;
      dirs.push(p);
    }
    return { found, dirs };
  };

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
    const deleted = (): Classified => {
      const { found } = lowerLookup(f, ent.name);
      return { change: { path: rel, kind: "deleted", type: found ? found.type : "other", size: 0 } };
    };
    if (ent.wh || ent.lowerOnly) return (ent.done = deleted());
    let st: StatLike | undefined;
    try {
      st = port.lstat(abs);
    } catch (e) {
      return (ent.done = { error: { path: rel, message: message(e) } });
    }
    if (!st) {
      // A name that is not valid UTF-8 arrives with U+FFFD and cannot be looked up (or sent) as is.
      if (ent.name.includes("\uFFFD")) return (ent.done = { error: { path: rel, message: "name is not valid UTF-8; not reported" } });
      return (ent.done = {}); // vanished during the walk: nothing to report
    }
    if (isWhiteoutStat(st) || (f.xwh && st.isFile() && st.size === 0 && xattr(abs, "whiteout") !== null)) return (ent.done = deleted());
    const { found, dirs } = lowerLookup(f, ent.name);
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
    if (found.type !== "dir") return (ent.done = { change: dirChange("modified"), child: { abs, rel, lowers: [], opaque: false, xwh } });
    const opaque = f.opaque || opaqueAttr || marker();
    let lst: StatLike | undefined;
    try {
      lst = port.lstat(found.path);
    } catch {
      lst = undefined;
    }
    const metaChanged = lst !== undefined && (lst.mode !== st.mode || lst.uid !== st.uid || lst.gid !== st.gid);
    return (ent.done = {
      change: opaque || metaChanged ? dirChange("modified") : undefined,
      child: { abs, rel, lowers: dirs, opaque, xwh },
    });
  };

  /** Read a directory into sorted items; returns an error text instead when it cannot be read. */
  const enter = (abs: string, rel: string, lowers: string[], opaque: boolean, xwh: boolean, cached?: Dirent[]): Frame | string => {
    let dirents: Dirent[];
    try {
      dirents = cached ?? port.readdir(abs);
    } catch (e) {
      return `cannot list directory: ${message(e)}`;
    }
    const items: Item[] = [];
    const real = new Set<string>();
    const wh: string[] = [];
    let isOpaque = opaque;
    for (const d of dirents) {
      const name = d.name;
      if (name.charCodeAt(0) === 46 /* . */ && name.startsWith(".wh.")) {
        if (name === OPQ_MARKER) isOpaque = lowers.length > 0;
        else if (!name.startsWith(".wh..wh.") && name.length > 4) wh.push(name.slice(4));
        continue; // other `.wh..wh.*` names are AUFS bookkeeping
      }
      real.add(name);
      const ent: Ent = { name, dirent: d };
      items.push({ key: name, ent, sub: false });
      if (direntIsDir(d, port, abs + "/" + name)) items.push({ key: name + "/", ent, sub: true });
    }
    for (const name of wh) {
      if (real.has(name)) continue;
      real.add(name);
      items.push({ key: name, ent: { name, wh: true }, sub: false });
    }
    let lowerError = "";
    let lowerMaps: (Map<string, Dirent> | undefined)[] | undefined;
    // One listing per lower dir beats one lstat per upper entry once the upper dir has a few entries.
    if (lowers.length > 0 && (isOpaque || dirents.length >= listLowerAt)) {
      lowerMaps = lowers.map((l) => {
        try {
          const m = new Map<string, Dirent>();
          for (const d of port.readdir(l)) m.set(d.name, d);
          return m;
        } catch (e) {
          if (isOpaque) lowerError = `cannot list lower directory ${l}: ${message(e)}`;
          return undefined; // lookups in this layer fall back to lstat
        }
      });
    }
    if (isOpaque && lowerMaps) {
      const seen = new Set<string>();
      for (let i = 0; i < lowers.length; i++) {
        const m = lowerMaps[i];
        if (!m) continue;
        for (const [name, d] of m) {
          if (real.has(name) || seen.has(name) || name.startsWith(".wh.")) continue;
          if (d.isCharacterDevice()) {
            const s = port.lstat(lowers[i] + "/" + name);
            if (s && isWhiteoutStat(s)) continue;
          }
          seen.add(name);
          items.push({ key: name, ent: { name, lowerOnly: true }, sub: false });
        }
      }
    }
    const cmp = comparatorFor(items.map((i) => i.key));
    items.sort((a, b) => cmp(a.key, b.key));
    const frame: Frame = { rel, abs, lowers, opaque: isOpaque, xwh, lowerMaps, items, i: 0 };
    return lowerError ? Object.assign(frame, { lowerError }) : frame;
  };

  const push = (abs: string, rel: string, lowers: string[], opaque: boolean, xwh: boolean, cached?: Dirent[]): WalkItem | undefined => {
    const r = enter(abs, rel, lowers, opaque, xwh, cached);
    const key = rel + "/";
    if (typeof r === "string") {
      return after === undefined || compareUtf8(key, after) > 0 ? { key, error: { path: rel || "/", message: r } } : undefined;
    }
    stack.push(r);
    const le = (r as Frame & { lowerError?: string }).lowerError;
    if (le && (after === undefined || compareUtf8(key, after) > 0)) return { key, error: { path: rel || "/", message: le } };
    return undefined;
  };

  try {
    const first = push(o.upper, "", o.lowers, false, holdsXattrWhiteouts(o.upper, xattr(o.upper, "opaque")));
    if (first) yield first;
    while (stack.length > 0) {
      const f = stack[stack.length - 1]!;
      if (f.i >= f.items.length) {
        stack.pop();
        continue;
      }
      const item = f.items[f.i++]!;
      const full = f.rel + "/" + item.key;
      if (item.sub) {
        if (after !== undefined) {
          if (compareUtf8(full, after) > 0) after = undefined;
          else if (!after.startsWith(full)) continue;
        }
        const c = classify(f, item.ent);
        if (!c.child || (o.prune && o.prune(c.child.rel))) continue;
        const err = push(c.child.abs, c.child.rel, c.child.lowers, c.child.opaque, c.child.xwh, item.ent.children);
        item.ent.children = undefined;
        if (err) yield err;
        continue;
      }
      if (after !== undefined) {
        if (compareUtf8(full, after) <= 0) continue;
        after = undefined;
      }
      const c = classify(f, item.ent);
      if (c.change) yield { key: full, change: c.change };
      else if (c.error) yield { key: full, error: c.error };
    }
  } finally {
    if (!o.port) port.close?.();
  }
}
