// Tests of readdirFd (getdents64 on an open fd): the same entries and types as readdirSync, hostile names included.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { closeSync, constants, mkdirSync, openSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../agent/testing.ts";
import { readdirFd } from "./dirents.ts";
import { createStatAt } from "./stat.ts";
import { isRoot, mknodWhiteout } from "./testkit.ts";

let t: ReturnType<typeof tempDir>;
let dir: string;
beforeAll(() => {
  t = tempDir("fsdiff-dirents-");
  dir = join(t.path, "d");
  mkdirSync(join(dir, "sub"), { recursive: true });
  writeFileSync(join(dir, "plain.txt"), "x");
  writeFileSync(join(dir, "new\nline"), "");
  writeFileSync(join(dir, "ümlaut-€-😀"), "");
  writeFileSync(join(dir, "x".repeat(200)), "");
  writeFileSync(join(dir, ".hidden"), "");
  writeFileSync(join(dir, "..."), "");
  writeFileSync(Buffer.concat([Buffer.from(join(dir, "bad-")), Buffer.from([0xff, 0xfe])]), "");
  writeFileSync(Buffer.concat([Buffer.from(join(dir, "half-")), Buffer.from([0xe2, 0x82])]), "");
  symlinkSync("sub", join(dir, "link"));
  if (isRoot) mknodWhiteout(join(dir, "wh"));
  // More entries than one 64 KiB getdents64 buffer holds.
  mkdirSync(join(t.path, "many"));
  for (let i = 0; i < 1500; i++) writeFileSync(join(t.path, "many", `entry-with-a-long-name-${"y".repeat(40)}-${i}`), "");
});
afterAll(() => t.cleanup());

function both(path: string) {
  const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    const got = readdirFd(fd, path);
    expect(got).not.toBeNull();
    const shape = (d: { name: string; isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean; isCharacterDevice(): boolean; isFIFO(): boolean }) =>
      [d.name, d.isFile(), d.isDirectory(), d.isSymbolicLink(), d.isCharacterDevice(), d.isFIFO()].join("|");
    const sort = (a: string[]) => a.sort();
    return { got: sort(got!.map(shape)), want: sort(readdirSync(path, { withFileTypes: true }).map(shape)) };
  } finally {
    closeSync(fd);
  }
}

test("the same names and types as readdirSync: newlines, non-ASCII, long, dot-names, invalid UTF-8, symlinks, whiteouts", () => {
  const { got, want } = both(dir);
  expect(got).toEqual(want);
  expect(got.some((l) => l.startsWith("bad-\uFFFD\uFFFD|"))).toBe(true);
  expect(got.some((l) => l.startsWith(".|") || l.startsWith("..|"))).toBe(false);
  expect(got.some((l) => l.startsWith("...|"))).toBe(true);
});

test("a directory bigger than one read buffer is listed whole", () => {
  const { got, want } = both(join(t.path, "many"));
  expect(got.length).toBe(1500);
  expect(got).toEqual(want);
});

test("an fd that is not a directory throws instead of answering nothing", () => {
  const fd = openSync(join(dir, "plain.txt"), constants.O_RDONLY);
  try {
    expect(() => readdirFd(fd, join(dir, "plain.txt"))).toThrow();
  } finally {
    closeSync(fd);
  }
  // The stat helper still works alongside (no shared buffer between them).
  const s = createStatAt();
  try {
    expect(s.lstatIn(dir, "plain.txt")?.size).toBe(1);
  } finally {
    s.close();
  }
});
