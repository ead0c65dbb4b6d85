// Find the overlay's upper and lower dirs: flags, then /proc/self/mountinfo, then the conventional places.

import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { AgentError } from "../../agent/errors.ts";
import { findOverlay, overlayOptions, parseMountinfo, splitLowerdir } from "./mountinfo.ts";

/** Where the original agent looks (`<root>/upper`, `<root>/lower`), in order. */
const CONVENTIONAL_ROOTS = ["/overlay", "/run/overlay", "/tmp/overlay"];

export interface LayerOptions {
  /** The merged mount whose upper dir is wanted (default "/"). */
  mountPoint?: string;
  /** `--overlay-upper`: used as is, never replaced by a guess. */
  upper?: string;
  /** `--overlay-lower`, as given (`DIR[:DIR...]`, `\:` for a colon inside a path). */
  lower?: string;
  /** Reads the mountinfo text (default: /proc/self/mountinfo). */
  readMountinfo?: () => string;
  /** Conventional roots holding `upper/` and `lower/` (injectable for tests). */
  fallbackRoots?: string[];
}

export interface Layers {
  upper: string;
  /** Lower layers, top first; empty when unknown. */
  lowers: string[];
  lowerKnown: boolean;
  /** The overlay workdir, skipped if it sits inside the upper dir. */
  work?: string;
  /** `trusted.overlay.` or, with the `userxattr` mount option, `user.overlay.`. */
  xattrPrefix: string;
  /** Where the upper dir came from, for console lines and status. */
  source: string;
  /** Why the lower is unknown (or where it came from). */
  lowerNote: string;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function defaultMountinfo(): string {
  return readFileSync("/proc/self/mountinfo", "utf8");
}

/**
 * Resolve the layers, or throw E_UNAVAILABLE saying everything that was looked for.
 * @example resolveLayers({ mountPoint: "/" }) // { upper: "/overlay/upper", lowers: ["/overlay/lower"], ... }
 */
export function resolveLayers(opts: LayerOptions = {}): Layers {
  const mountPoint = opts.mountPoint ?? "/";
  const roots = opts.fallbackRoots ?? CONVENTIONAL_ROOTS;
  const looked: string[] = [];

  let mi: ReturnType<typeof overlayOptions> | undefined;
  try {
    const ov = findOverlay(parseMountinfo((opts.readMountinfo ?? defaultMountinfo)()), mountPoint);
    if (ov) mi = overlayOptions(ov);
    else looked.push(`no overlay is mounted at ${mountPoint} (per /proc/self/mountinfo)`);
  } catch (e) {
    looked.push(`cannot read /proc/self/mountinfo (${(e as Error).message})`);
  }
  const xattrPrefix = mi?.userxattr ? "user.overlay." : "trusted.overlay.";

  let upper: string | undefined;
  let source = "";
  let work: string | undefined;
  if (opts.upper !== undefined) {
    if (!isDir(opts.upper)) throw new AgentError("E_UNAVAILABLE", `--overlay-upper ${opts.upper} is not a directory`);
    upper = opts.upper;
    source = "--overlay-upper";
  } else {
    if (mi && mi.upper === undefined) looked.push(`the overlay at ${mountPoint} has no upperdir (read-only overlay)`);
    if (mi?.upper !== undefined) {
      if (isDir(mi.upper)) {
        upper = mi.upper;
        work = mi.work;
        source = `mountinfo (overlay at ${mountPoint})`;
      } else looked.push(`the overlay at ${mountPoint} names upperdir=${mi.upper}, which is not reachable from the agent's root`);
    }
    if (upper === undefined) {
      const tried = roots.map((r) => join(r, "upper"));
      upper = tried.find(isDir);
      if (upper === undefined) {
        looked.push(`none of ${tried.join(", ")} is a directory`);
        throw new AgentError("E_UNAVAILABLE", `no overlay upper dir found: ${looked.join("; ")}; pass --overlay-upper DIR if it is elsewhere`);
      }
      source = `fallback ${upper}`;
    }
  }

  const lowerNotes: string[] = [];
  const tryList = (list: string[], from: string): string[] | undefined => {
    if (list.length === 0) return undefined;
    const missing = list.filter((d) => !isDir(d));
    if (missing.length === 0) return list;
    lowerNotes.push(`${from} names ${missing.join(", ")}, not reachable`);
    return undefined;
  };
  let lowers: string[] | undefined;
  let lowerFrom = "";
  if (opts.lower !== undefined) {
    lowers = tryList(splitLowerdir(opts.lower).lowers, "--overlay-lower");
    lowerFrom = "--overlay-lower";
  } else {
    if (mi) lowers = tryList(mi.lowers, `the overlay at ${mountPoint}`);
    lowerFrom = `mountinfo (overlay at ${mountPoint})`;
    if (!lowers) {
      // The upper's own root first, then the other conventional places.
      const own = roots.filter((r) => join(r, "upper") === upper);
      const order = [...own, ...roots.filter((r) => !own.includes(r))];
      const found = order.map((r) => join(r, "lower")).find(isDir);
      if (found) {
        lowers = [found];
        lowerFrom = `fallback ${found}`;
      } else lowerNotes.push(`none of ${order.map((r) => join(r, "lower")).join(", ")} is a directory`);
    }
  }
  return {
    upper,
    lowers: lowers ?? [],
    lowerKnown: lowers !== undefined,
    work,
    xattrPrefix,
    source,
    lowerNote: lowers ? lowerFrom : `lower unknown: ${lowerNotes.join("; ") || "no lower dir given"}`,
  };
}
