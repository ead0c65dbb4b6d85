// The upper-dir walk: directories in path order, resumable after a key; each entry classified by classify.ts.

import { realpathSync, type Dirent } from "node:fs";
import { classifier, createRealPort, direntIsDir, isWhiteoutStat, message, OPQ_MARKER, type Ent, type Frame, type Item, type WalkPort } from "./classify.ts";
import { comparatorFor, compareUtf8 } from "./order.ts";
import type { FsChange, WalkError } from "./schemas.ts";

export { createRealPort, realPort, type WalkPort } from "./classify.ts";

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

const LIST_LOWER_AT = 16;

function realOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * Walk the upper dir in UTF-8 byte order of the reported paths, yielding changes and read errors.
 * Holds one directory listing per level of depth, never the whole tree.
 * @example for (const item of walkUpper({ upper: "/overlay/upper", lowers: ["/overlay/lower"], lowerKnown: true })) ...
 */
export function* walkUpper(o: WalkOptions): Generator<WalkItem> {
  const port = o.port ?? createRealPort();
  // Resolve symlinks in the layer roots once, so every directory below can be opened with O_NOFOLLOW.
  const upper = realOr(o.upper);
  const lowers = o.lowers.map(realOr);
  const prefix = o.xattrPrefix ?? "trusted.overlay.";
  // Cleared once the walk is past it: every later key is larger (the walk goes in key order).
  let after = o.after;
  const listLowerAt = o.listLowerAt ?? LIST_LOWER_AT;
  const stack: Frame[] = [];

  const { classify, xattr, holdsXattrWhiteouts } = classifier({ lowerKnown: o.lowerKnown, work: o.work !== undefined ? realOr(o.work) : undefined, prefix, port });

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
    const first = push(upper, "", lowers, false, holdsXattrWhiteouts(upper, xattr(upper, "opaque")));
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
