// Tests of layer discovery: mountinfo, flags, conventional fallbacks, E_UNAVAILABLE, unknown lower.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { AgentError } from "../../agent/errors.ts";
import { tempDir } from "../../agent/testing.ts";
import { resolveLayers } from "./layers.ts";

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir("fsdiff-layers-");
});
afterEach(() => t.cleanup());

function dir(...parts: string[]): string {
  const p = join(t.path, ...parts);
  mkdirSync(p, { recursive: true });
  return p;
}

const esc = (p: string) => p.replace(/\\/g, "\\134").replace(/ /g, "\\040");
function mountinfo(upper: string, lowers: string, point = "/", work = "/w"): () => string {
  return () =>
    `22 1 252:1 / / ro - ext4 /dev/vda ro\n30 22 0:30 / ${esc(point)} rw - overlay overlay rw,lowerdir=${esc(lowers)},upperdir=${esc(upper)},workdir=${esc(work)}\n`;
}

function unavailable(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(AgentError);
    expect((e as AgentError).code).toBe("E_UNAVAILABLE");
    return (e as AgentError).message;
  }
  throw new Error("expected E_UNAVAILABLE");
}

describe("resolveLayers", () => {
  test("mountinfo names reachable layers: they are used, spaces and colons in names included", () => {
    const upper = dir("up per");
    const l1 = dir("low:1");
    const l2 = dir("low2");
    const l = resolveLayers({ readMountinfo: mountinfo(upper, `${l1.replace(":", "\\:")}:${l2}`), fallbackRoots: [] });
    expect(l.upper).toBe(upper);
    expect(l.lowers).toEqual([l1, l2]);
    expect(l.lowerKnown).toBe(true);
    expect(l.work).toBe("/w");
    expect(l.source).toContain("mountinfo");
  });

  test("--overlay-mount picks the overlay at another mount point", () => {
    const upper = dir("u");
    const lower = dir("l");
    const l = resolveLayers({ mountPoint: "/srv/m x", readMountinfo: mountinfo(upper, lower, "/srv/m x"), fallbackRoots: [] });
    expect(l.upper).toBe(upper);
    expect(() => resolveLayers({ mountPoint: "/", readMountinfo: mountinfo(upper, lower, "/srv/m x"), fallbackRoots: [] })).toThrow(AgentError);
  });

  test("mountinfo paths not reachable from the agent's root fall back to the conventional places", () => {
    const root1 = join(t.path, "overlay");
    const root2 = dir("run-overlay");
    const upper = dir("run-overlay", "upper");
    const lower = dir("run-overlay", "lower");
    const l = resolveLayers({ readMountinfo: mountinfo("/initramfs/upper", "/initramfs/lower"), fallbackRoots: [root1, root2] });
    expect(l.upper).toBe(upper);
    expect(l.lowers).toEqual([lower]);
    expect(l.lowerKnown).toBe(true);
    expect(l.source).toBe(`fallback ${upper}`);
    expect(l.work).toBeUndefined();
  });

  test("no upper anywhere: E_UNAVAILABLE says what was looked for", () => {
    const roots = [join(t.path, "a"), join(t.path, "b")];
    const msg = unavailable(() => resolveLayers({ readMountinfo: mountinfo("/gone/upper", "/gone/lower"), fallbackRoots: roots }));
    expect(msg).toContain("upperdir=/gone/upper");
    expect(msg).toContain("not reachable");
    expect(msg).toContain(join(t.path, "a", "upper"));
    expect(msg).toContain(join(t.path, "b", "upper"));
    expect(msg).toContain("--overlay-upper");
    const none = unavailable(() => resolveLayers({ readMountinfo: () => "22 1 252:1 / / rw - ext4 /dev/vda rw\n", fallbackRoots: roots }));
    expect(none).toContain("no overlay is mounted at /");
    const broken = unavailable(() =>
      resolveLayers({
        readMountinfo: () => {
          throw new Error("ENOENT: no /proc");
        },
        fallbackRoots: roots,
      }),
    );
    expect(broken).toContain("cannot read /proc/self/mountinfo");
  });

  test("an upper without a reachable lower answers with lower_known false and says why", () => {
    const upper = dir("u");
    const l = resolveLayers({ readMountinfo: mountinfo(upper, "/initramfs/lower"), fallbackRoots: [join(t.path, "nothing")] });
    expect(l.upper).toBe(upper);
    expect(l.lowerKnown).toBe(false);
    expect(l.lowers).toEqual([]);
    expect(l.lowerNote).toContain("/initramfs/lower");
    expect(l.lowerNote).toContain(join(t.path, "nothing", "lower"));
  });

  test("flags override mountinfo; a flag upper that is not a directory is an error, never a guess", () => {
    const upper = dir("flag-u");
    const lower = dir("flag-l");
    const other = dir("mi-u");
    const l = resolveLayers({ upper, lower, readMountinfo: mountinfo(other, other), fallbackRoots: [] });
    expect(l.upper).toBe(upper);
    expect(l.lowers).toEqual([lower]);
    expect(l.source).toBe("--overlay-upper");
    const msg = unavailable(() => resolveLayers({ upper: join(t.path, "missing"), readMountinfo: mountinfo(other, other), fallbackRoots: [] }));
    expect(msg).toContain("--overlay-upper");
    const half = resolveLayers({ upper, lower: `${lower}:${join(t.path, "gone")}`, readMountinfo: () => "", fallbackRoots: [] });
    expect(half.lowerKnown).toBe(false);
    expect(half.lowerNote).toContain(join(t.path, "gone"));
  });

  test("userxattr mounts read user.overlay.* attributes", () => {
    const upper = dir("u");
    const text = `30 1 0:30 / / rw - overlay overlay rw,lowerdir=${upper},upperdir=${upper},workdir=/w,userxattr\n`;
    expect(resolveLayers({ readMountinfo: () => text, fallbackRoots: [] }).xattrPrefix).toBe("user.overlay.");
    expect(resolveLayers({ readMountinfo: mountinfo(upper, upper), fallbackRoots: [] }).xattrPrefix).toBe("trusted.overlay.");
  });
});
