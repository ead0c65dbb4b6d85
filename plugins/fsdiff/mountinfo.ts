// Parse /proc/self/mountinfo and the overlay super options (octal escapes, `\:` in lowerdir lists).

/** One mount as the kernel lists it (escapes decoded). */
export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
  /** Super options in order, `key=value` split; bare flags have value undefined. */
  superOptions: [string, string | undefined][];
}

/** The layers of an overlay mount as its options name them. */
export interface OverlayOptions {
  upper?: string;
  work?: string;
  /** Regular lower layers, top first (data-only layers after `::` are left out). */
  lowers: string[];
  /** `userxattr`: the overlay keeps its xattrs under `user.overlay.*` instead of `trusted.overlay.*`. */
  userxattr: boolean;
}

/** Decode the kernel's `\ooo` octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash). */
export function unescapeOctal(s: string): string {
  if (!s.includes("\\")) return s;
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Split one mountinfo line. Returns null for lines that do not have the documented shape.
 * @example parseMountinfoLine("44 27 0:39 / /merged rw - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w")
 */
export function parseMountinfoLine(line: string): MountEntry | null {
  const fields = line.split(" ");
  const sep = fields.indexOf("-", 6);
  if (fields.length < 7 || sep < 0 || fields.length < sep + 4) return null;
  const mountPoint = unescapeOctal(fields[4]!);
  const fsType = unescapeOctal(fields[sep + 1]!);
  const source = unescapeOctal(fields[sep + 2]!);
  // Commas inside values are escaped by the kernel, so a raw comma always separates options.
  const superOptions = fields
    .slice(sep + 3)
    .join(" ")
    .split(",")
    .filter((o) => o !== "")
    .map((o): [string, string | undefined] => {
      const eq = o.indexOf("=");
      return eq < 0 ? [unescapeOctal(o), undefined] : [unescapeOctal(o.slice(0, eq)), unescapeOctal(o.slice(eq + 1))];
    });
  return { mountPoint, fsType, source, superOptions };
}

/** Every well-formed line of a mountinfo text, in order. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const e = parseMountinfoLine(line);
    if (e) out.push(e);
  }
  return out;
}

/**
 * Split an overlay `lowerdir` value: `:` separates layers, `\:` is a colon inside a path, `\\` a
 * backslash, and `::` starts the data-only layers (returned separately).
 */
export function splitLowerdir(value: string): { lowers: string[]; dataOnly: string[] } {
  const lowers: string[] = [];
  const dataOnly: string[] = [];
  let cur = "";
  let inData = false;
  let lastWasSep = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === "\\" && i + 1 < value.length) {
      cur += value[++i];
      lastWasSep = false;
      continue;
    }
    if (c === ":") {
      if (cur === "" && lastWasSep) inData = true;
      else if (cur !== "") (inData ? dataOnly : lowers).push(cur);
      cur = "";
      lastWasSep = true;
      continue;
    }
    cur += c;
    lastWasSep = false;
  }
  if (cur !== "") (inData ? dataOnly : lowers).push(cur);
  return { lowers, dataOnly };
}

/** The layers named by an overlay mount's super options (`lowerdir=`, `lowerdir+=`, `upperdir=`, `workdir=`). */
export function overlayOptions(entry: MountEntry): OverlayOptions {
  const out: OverlayOptions = { lowers: [], userxattr: false };
  for (const [k, v] of entry.superOptions) {
    if (k === "upperdir" && v !== undefined) out.upper = v;
    else if (k === "workdir" && v !== undefined) out.work = v;
    else if (k === "lowerdir" && v !== undefined) out.lowers.push(...splitLowerdir(v).lowers);
    else if (k === "lowerdir+" && v !== undefined) out.lowers.push(v);
    else if (k === "userxattr") out.userxattr = true;
  }
  return out;
}

/** The overlay mounted at `mountPoint` that is visible there (the last one listed), if any. */
export function findOverlay(entries: MountEntry[], mountPoint: string): MountEntry | undefined {
  let found: MountEntry | undefined;
  for (const e of entries) {
    if (e.mountPoint !== mountPoint) continue;
    // A later mount on the same point hides the earlier one, whatever its type.
    found = e.fsType === "overlay" ? e : undefined;
  }
  return found;
}
