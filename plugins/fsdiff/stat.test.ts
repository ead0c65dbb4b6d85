// Tests of the statx-based lstat: same answers as node's lstat, fds released, symlinked dirs not followed.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../agent/testing.ts";
import { createStatAt } from "./stat.ts";
import { isRoot, mknodWhiteout } from "./testkit.ts";
import { walkUpper } from "./walk.ts";
import { readdirNoFollow } from "./classify.ts";

let t: ReturnType<typeof tempDir>;
beforeAll(() => {
  t = tempDir("fsdiff-stat-");
  mkdirSync(join(t.path, "d/e"), { recursive: true });
  writeFileSync(join(t.path, "d/f"), "12345");
  symlinkSync("e", join(t.path, "d/link"));
  symlinkSync("d", join(t.path, "dlink"));
  if (isRoot) mknodWhiteout(join(t.path, "d/wh"));
  for (let i = 0; i < 20; i++) mkdirSync(join(t.path, "many", String(i)), { recursive: true });
});
afterAll(() => t.cleanup());

const openFds = () => readdirSync("/proc/self/fd").length;

describe("createStatAt", () => {
  test("answers like lstat for files, dirs, symlinks, whiteouts; absent paths are undefined", () => {
    const s = createStatAt();
    try {
      for (const name of ["d/f", "d/e", "d/link", "dlink", ...(isRoot ? ["d/wh"] : [])]) {
        const p = join(t.path, name);
        const a = s.lstat(p)!;
        const b = lstatSync(p);
        expect([a.mode, a.size, a.uid, a.gid, a.isFile(), a.isDirectory(), a.isSymbolicLink(), a.isCharacterDevice(), a.rdev === 0]).toEqual([
          b.mode, b.size, b.uid, b.gid, b.isFile(), b.isDirectory(), b.isSymbolicLink(), b.isCharacterDevice(), b.rdev === 0,
        ]);
      }
      expect(s.lstat(join(t.path, "d/missing"))).toBeUndefined();
      expect(s.lstat(join(t.path, "d/f/under-a-file"))).toBeUndefined();
      // Through a symlinked directory the path still resolves (the last component is never followed).
      expect(s.lstat(join(t.path, "dlink/f"))!.size).toBe(5);
      expect(s.lstat(join(t.path, "dlink/link"))!.isSymbolicLink()).toBe(true);
    } finally {
      s.close();
    }
  });

  test("keeps at most maxFds directory fds and releases them on close", () => {
    const before = openFds();
    const s = createStatAt(4);
    for (let i = 0; i < 20; i++) s.lstat(join(t.path, "many", String(i), "x"));
    expect(openFds() - before).toBeLessThanOrEqual(4);
    s.close();
    expect(openFds()).toBe(before);
  });

  test("readdirNoFollow lists a directory but refuses a symlink in its place, leaking no fd", () => {
    const before = openFds();
    expect(readdirNoFollow(join(t.path, "d")).map((e) => e.name).sort()).toEqual(["e", "f", "link", ...(isRoot ? ["wh"] : [])].sort());
    expect(() => readdirNoFollow(join(t.path, "dlink"))).toThrow("is no longer a directory");
    expect(() => readdirNoFollow(join(t.path, "d/f"))).toThrow("is no longer a directory");
    expect(() => readdirNoFollow(join(t.path, "missing"))).toThrow("ENOENT");
    expect(openFds()).toBe(before);
  });

  test("an upper dir given through a symlink is walked (the root may be a link, nothing below it is)", () => {
    const viaLink = [...walkUpper({ upper: join(t.path, "dlink"), lowers: [], lowerKnown: false })].map((i) => i.change?.path ?? i.error?.path);
    expect(viaLink).toEqual(["/e", "/f", "/link", ...(isRoot ? ["/wh"] : [])]);
  });

  test("a walk abandoned half way releases its fds", () => {
    const before = openFds();
    for (const _ of walkUpper({ upper: t.path, lowers: [], lowerKnown: false })) break;
    let n = 0;
    for (const _ of walkUpper({ upper: t.path, lowers: [], lowerKnown: false })) n++;
    expect(n).toBeGreaterThan(3);
    expect(openFds()).toBe(before);
  });
});
