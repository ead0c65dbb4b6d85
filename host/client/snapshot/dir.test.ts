// Snapshot directories: hostile path text, bridge names confined under the root (no .., no absolute, no symlink escape), target preparation.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../../agent/testing.ts";
import { checkDirText, confineDir, prepareTargetDir, SnapshotDirError } from "./dir.ts";

const d = tempDir("mvm-snapdir-");
afterAll(() => d.cleanup());

function refused(fn: () => unknown): SnapshotDirError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SnapshotDirError);
    return e as SnapshotDirError;
  }
  throw new Error("accepted");
}

describe("checkDirText (mvmctl --to / --from)", () => {
  test("relative paths are made absolute; empty text and control characters are refused, escaped in the message", () => {
    expect(checkDirText("snaps/web1", "/root")).toBe("/root/snaps/web1");
    expect(checkDirText("/srv/s", "/root")).toBe("/srv/s");
    expect(refused(() => checkDirText("", "/root")).message).toBe("DIR: empty path");
    expect(refused(() => checkDirText("  ", "/root")).message).toBe("DIR: empty path");
    const nl = refused(() => checkDirText("/srv/a\nb", "/root", "--to"));
    expect(nl.message).toBe("--to: the path holds control characters: /srv/a\\nb");
    const esc = refused(() => checkDirText("/srv/\u001b[31mred", "/root"));
    expect(esc.message).not.toContain("\u001b");
    expect(refused(() => checkDirText("/srv/a\u0000b", "/root")).message).toContain("control characters");
    expect(refused(() => checkDirText("/srv/\u009bx", "/root")).message).toContain("control characters");
    expect(refused(() => checkDirText("/" + "a".repeat(5000), "/root")).message).toContain("over 4096");
  });
});

describe("confineDir (bridge bodies under --snapshot-dir)", () => {
  const root = join(d.path, "root");
  mkdirSync(root);
  test("names under the root", () => {
    expect(confineDir(root, "web1")).toBe(join(root, "web1"));
    expect(confineDir(root, "web1/2026-11-28T10.00.00")).toBe(join(root, "web1", "2026-11-28T10.00.00"));
  });

  test("escapes and odd names are refused", () => {
    for (const bad of ["../x", "web1/../../etc", "..", ".", "/etc/passwd", "~root/x", "web1//x", "web1/", "/", ".hidden", "web1/.ssh", "a b", "a\nb", "a\\b", "a/b/c/d/e/f/g/h/i", "", "x".repeat(129)])
      expect(refused(() => confineDir(root, bad)).reason).toBe("escapes");
  });

  test("a symlink under the root is not followed, wherever it points", () => {
    mkdirSync(join(root, "real"));
    symlinkSync("/tmp", join(root, "out"));
    symlinkSync(join(root, "real"), join(root, "in"));
    expect(refused(() => confineDir(root, "out/x")).message).toContain("is a symlink");
    expect(refused(() => confineDir(root, "in")).message).toContain("is a symlink");
    writeFileSync(join(root, "file"), "");
    expect(refused(() => confineDir(root, "file/x")).reason).toBe("not-a-dir");
  });

  test("the root itself may be a symlink; a missing root is said", () => {
    symlinkSync(root, join(d.path, "root-link"));
    expect(confineDir(join(d.path, "root-link"), "web1")).toBe(join(root, "web1"));
    expect(refused(() => confineDir(join(d.path, "no-root"), "web1")).message).toContain("is not usable");
  });
});

describe("prepareTargetDir", () => {
  test("a new directory is created 0700; an empty one is accepted; a file or a whole snapshot is refused unless overwriting", () => {
    const t = join(d.path, "t", "deep");
    expect(prepareTargetDir(t, false)).toEqual({ created: true, replaces: false });
    expect(statSync(t).mode & 0o777).toBe(0o700);
    expect(prepareTargetDir(t, false)).toEqual({ created: false, replaces: false });
    writeFileSync(join(t, "manifest.json"), "{}");
    const e = refused(() => prepareTargetDir(t, false));
    expect(e.reason).toBe("exists");
    expect(e.message).toContain("already holds a snapshot");
    expect(prepareTargetDir(t, true)).toEqual({ created: false, replaces: true });
    writeFileSync(join(d.path, "plain"), "");
    expect(refused(() => prepareTargetDir(join(d.path, "plain"), false)).reason).toBe("not-a-dir");
  });
});
