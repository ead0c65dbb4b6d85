// Tests of the upper-dir walk on synthetic layers: whiteouts, opaque dirs, order, symlinks, errors, resume.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync, type Dirent } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../agent/testing.ts";
import { isRoot, layer, lines, setOpaque, walkAll } from "./testkit.ts";
import { realPort, type WalkPort } from "./walk.ts";
import { lsetxattr } from "./xattr.ts";

if (!isRoot) console.warn("fsdiff walk tests: not root, skipping the ones that need mknod or trusted.* xattrs");

let t: ReturnType<typeof tempDir>;
let U: string;
let L: string;
beforeEach(() => {
  t = tempDir("fsdiff-walk-");
  U = join(t.path, "upper");
  L = join(t.path, "lower");
});
afterEach(() => t.cleanup());

const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe("walkUpper", () => {
  test("OCI whiteouts: .wh.NAME deletes NAME, .wh..wh..opq makes its dir opaque, AUFS bookkeeping is skipped", () => {
    layer(L, ["gone", "gonedir/x", "dir/a", "dir/b", "dir/sub/deep", "keep/k", "etc/hosts"]);
    layer(U, [".wh.gone", ".wh.gonedir", "dir/.wh..wh..opq", "dir/b", "dir/new", ".wh..wh.plnk/", ".wh..wh.aufs", "keep/.wh.nothing-there", "etc/hosts"]);
    const { changes, errors } = walkAll({ upper: U, lowers: [L], lowerKnown: true });
    expect(errors).toEqual([]);
    expect(lines(changes)).toEqual([
      "modified dir /dir",
      "deleted file /dir/a",
      `modified file /dir/b ${"dir/b".length}`,
      `created file /dir/new ${"dir/new".length}`,
      "deleted dir /dir/sub",
      `modified file /etc/hosts ${"etc/hosts".length}`,
      "deleted file /gone",
      "deleted dir /gonedir",
      "deleted other /keep/nothing-there",
    ]);
  });

  test.skipIf(!isRoot)("kernel whiteouts (char 0:0 and the whiteout xattr) and opaque dirs (xattr y; x is not opaque)", () => {
    layer(L, ["f", "g", "h", "d/old", "d/same", "x/one", "x/w", "plain/p"]);
    layer(U, ["f=c00", "d/same", "x/two", "plain/"]);
    writeFileSync(join(U, "g"), "");
    lsetxattr(join(U, "g"), "trusted.overlay.whiteout", "");
    lsetxattr(U, "trusted.overlay.whiteouts", ""); // 6.7 marks the parent this way, 6.8+ with opaque=x
    writeFileSync(join(U, "x/w"), "");
    lsetxattr(join(U, "x/w"), "trusted.overlay.whiteout", "");
    writeFileSync(join(U, "plain/p"), "");
    lsetxattr(join(U, "plain/p"), "trusted.overlay.whiteout", ""); // parent not marked: a plain empty file
    writeFileSync(join(U, "empty-new"), "");
    setOpaque(join(U, "d"));
    setOpaque(join(U, "x"), "x");
    const { changes } = walkAll({ upper: U, lowers: [L], lowerKnown: true });
    expect(lines(changes)).toEqual([
      "modified dir /d",
      "deleted file /d/old",
      `modified file /d/same ${"d/same".length}`,
      "created file /empty-new",
      "deleted file /f",
      "deleted file /g",
      "modified file /plain/p",
      `created file /x/two ${"x/two".length}`,
      "deleted file /x/w",
    ]);
  });

  test("a dir only present because a child changed is not reported; a chmod copy-up is; a new empty dir is", () => {
    layer(L, ["a/b/c", "meta/m", "file-then-dir"]);
    layer(U, ["a/b/c", "meta/", "newempty/", "file-then-dir/inside"]);
    chmodSync(join(L, "meta"), 0o755);
    chmodSync(join(U, "meta"), 0o700);
    const { changes } = walkAll({ upper: U, lowers: [L], lowerKnown: true });
    expect(lines(changes)).toEqual([
      `modified file /a/b/c ${"a/b/c".length}`,
      "modified dir /file-then-dir",
      `created file /file-then-dir/inside ${"file-then-dir/inside".length}`,
      "modified dir /meta",
      "created dir /newempty",
    ]);
  });

  test("inside an opaque dir, a subdir that the lower also has is replaced too (its lower children are deleted)", () => {
    layer(L, ["d/sub/f", "d/y"]);
    layer(U, ["d/.wh..wh..opq", "d/sub/"]);
    expect(lines(walkAll({ upper: U, lowers: [L], lowerKnown: true }).changes)).toEqual([
      "modified dir /d",
      "modified dir /d/sub",
      "deleted file /d/sub/f",
      "deleted file /d/y",
    ]);
  });

  test("several lowers: the top one decides, a whiteout in an upper lower hides the ones below", () => {
    const L1 = join(t.path, "l1");
    const L2 = join(t.path, "l2");
    layer(L2, ["only2", "dir2/x", "hidden"]);
    layer(L1, ["only1", "hidden=c00"].filter((s) => isRoot || !s.endsWith("=c00")));
    layer(U, ["only1", "only2", "dir2/x", "hidden"]);
    const { changes } = walkAll({ upper: U, lowers: [L1, L2], lowerKnown: true });
    expect(lines(changes)).toEqual([
      `modified file /dir2/x ${"dir2/x".length}`,
      `${isRoot ? "created" : "modified"} file /hidden ${"hidden".length}`,
      `modified file /only1 ${"only1".length}`,
      `modified file /only2 ${"only2".length}`,
    ]);
  });

  test("symlinks are reported, never followed (a loop, a link to a dir, a link to /)", () => {
    layer(L, []);
    layer(U, ["loop -> loop", "todir -> real", "real/inner", "root -> /", "self -> ."]);
    const { changes, errors } = walkAll({ upper: U, lowers: [L], lowerKnown: true });
    expect(errors).toEqual([]);
    expect(lines(changes)).toEqual([
      "created symlink /loop 4",
      "created dir /real",
      `created file /real/inner ${"real/inner".length}`,
      "created symlink /root 1",
      "created symlink /self 1",
      "created symlink /todir 4",
    ]);
  });

  test("paths come in UTF-8 byte order, names with newlines and astral characters included", () => {
    const names = ["a-b", "a.txt", "a/x", "a/y/z", "a\nb", "b\uFFFD", "b😀", "B", "é", "z z"];
    layer(L, []);
    layer(U, names);
    const { changes } = walkAll({ upper: U, lowers: [L], lowerKnown: true });
    const paths = changes.map((c) => c.path);
    const expected = ["/a", "/a/x", "/a/y", "/a/y/z", "/a-b", "/a.txt", "/a\nb", "/b\uFFFD", "/b😀", "/B", "/é", "/z z"].sort(utf8Order);
    expect(paths).toEqual(expected);
    // A directory's contents do not come right after it: "/a-b" sorts between "/a" and "/a/x".
    expect(paths.slice(0, 6)).toEqual(["/B", "/a", "/a\nb", "/a-b", "/a.txt", "/a/x"]);
  });

  test("a name that is not valid UTF-8 is listed in errors, not dropped", () => {
    layer(L, []);
    layer(U, ["ok"]);
    writeFileSync(Buffer.concat([Buffer.from(U + "/bad-"), Buffer.from([0xff, 0xfe])]), "x");
    const { changes, errors } = walkAll({ upper: U, lowers: [L], lowerKnown: true });
    expect(lines(changes)).toEqual([`created file /ok ${"ok".length}`]);
    expect(errors).toEqual([{ path: "/bad-\uFFFD\uFFFD", message: "name is not valid UTF-8; not reported" }]);
  });

  test("the overlay workdir inside the upper dir is skipped", () => {
    layer(L, []);
    layer(U, ["work/work/#1", "real"]);
    expect(lines(walkAll({ upper: U, lowers: [L], lowerKnown: true, work: join(U, "work") }).changes)).toEqual([`created file /real ${"real".length}`]);
  });

  test("lower unknown: every upper entry is created; copied-up parents are not reported, empty and opaque dirs are", () => {
    layer(U, ["etc/hosts", "emptydir/", "opq/.wh..wh..opq", "opq/n", ".wh.gone"]);
    const { changes } = walkAll({ upper: U, lowers: [], lowerKnown: false });
    expect(lines(changes)).toEqual([
      "created dir /emptydir",
      `created file /etc/hosts ${"etc/hosts".length}`,
      "deleted other /gone",
      "created dir /opq",
      `created file /opq/n ${"opq/n".length}`,
    ]);
  });

  test("an unreadable directory is listed in errors and the walk goes on; a file that vanishes is skipped", () => {
    layer(L, []);
    layer(U, ["a/1", "bad/x", "bad2/y", "c/3", "gone", "statfail"]);
    const port: WalkPort = {
      ...realPort,
      readdir: (d): Dirent[] => {
        if (d.endsWith("/bad") || d.endsWith("/bad2")) throw Object.assign(new Error(`EACCES: permission denied, scandir '${d}'`), { code: "EACCES" });
        return realPort.readdir(d);
      },
      lstat: (p) => {
        if (p.endsWith("/gone")) return undefined;
        if (p.endsWith("/statfail")) throw new Error("EIO: i/o error");
        return realPort.lstat(p);
      },
    };
    const all = walkAll({ upper: U, lowers: [L], lowerKnown: true, port });
    expect(lines(all.changes)).toEqual([
      "created dir /a",
      `created file /a/1 ${"a/1".length}`,
      "created dir /bad",
      "created dir /bad2",
      "created dir /c",
      `created file /c/3 ${"c/3".length}`,
    ]);
    expect(all.errors).toEqual([
      { path: "/bad", message: `cannot list directory: EACCES: permission denied, scandir '${join(U, "bad")}'` },
      { path: "/bad2", message: `cannot list directory: EACCES: permission denied, scandir '${join(U, "bad2")}'` },
      { path: "/statfail", message: "EIO: i/o error" },
    ]);
    // Resuming after any key gives exactly the rest, errors included, each once.
    for (let i = 0; i < all.keys.length; i++) {
      const rest = walkAll({ upper: U, lowers: [L], lowerKnown: true, port, after: all.keys[i] });
      expect(rest.keys).toEqual(all.keys.slice(i + 1));
    }
  });

  test("resuming after every key of a mixed tree yields exactly the remaining items", () => {
    layer(L, ["d/a", "d/b", "x/y/z", "w"]);
    layer(U, ["d/.wh..wh..opq", "d/c", ".wh.w", "x/y/z", "x/y/n/m", "a\nb/c", "p-q", "p/q"]);
    const all = walkAll({ upper: U, lowers: [L], lowerKnown: true });
    expect(all.keys.length).toBeGreaterThan(8);
    for (let i = 0; i < all.keys.length; i++) {
      expect(walkAll({ upper: U, lowers: [L], lowerKnown: true, after: all.keys[i] }).keys).toEqual(all.keys.slice(i + 1));
    }
  });

  test.skipIf(!isRoot)("listing the lower dir and lstat per entry give the same answer", () => {
    const L1 = join(t.path, "l1");
    const L2 = join(t.path, "l2");
    const names = Array.from({ length: 40 }, (_, i) => `d/n${String(i).padStart(2, "0")}`);
    layer(L2, [...names.filter((_, i) => i % 3 === 0), "d/sub/x", "d/fileish/", "d/hidden-by-l1"]);
    layer(L1, [...names.filter((_, i) => i % 5 === 0), "d/hidden-by-l1=c00", "d/fileish", "d/link -> x"]);
    layer(U, [...names, "d/sub/x", "d/fileish/y", "d/hidden-by-l1", "d/link", "d/n07=c00".replace("n07", "gone"), "d/.wh.n03"].filter((n) => n !== "d/n03"));
    const a = walkAll({ upper: U, lowers: [L1, L2], lowerKnown: true, listLowerAt: 1 });
    const b = walkAll({ upper: U, lowers: [L1, L2], lowerKnown: true, listLowerAt: 1_000_000 });
    expect(a).toEqual(b);
    const byPath = new Map(a.changes.map((c) => [c.path, `${c.kind} ${c.type}`]));
    expect(byPath.get("/d/n00")).toBe("modified file");
    expect(byPath.get("/d/n01")).toBe("created file");
    expect(byPath.get("/d/n03")).toBe("deleted file");
    expect(byPath.get("/d/hidden-by-l1")).toBe("created file");
    expect(byPath.get("/d/fileish")).toBe("modified dir");
    expect(byPath.get("/d/link")).toBe("modified file");
    expect(byPath.get("/d/gone")).toBe("deleted other");
    expect(byPath.has("/d/sub")).toBe(false);
    expect(byPath.get("/d/sub/x")).toBe("modified file");
  });

  test("prune skips a subtree without reading it", () => {
    layer(L, []);
    layer(U, ["tmp/a/b", "tmp/c", "etc/x"]);
    const read: string[] = [];
    const port: WalkPort = { ...realPort, readdir: (d) => (read.push(d), realPort.readdir(d)) };
    const { changes } = walkAll({ upper: U, lowers: [L], lowerKnown: true, port, prune: (p) => p === "/tmp" });
    expect(lines(changes)).toEqual(["created dir /etc", `created file /etc/x ${"etc/x".length}`, "created dir /tmp"]);
    expect(read).not.toContain(join(U, "tmp"));
    expect(read).toContain(join(U, "etc"));
  });

  test("walk of an upper dir that cannot be read at all gives one error", () => {
    mkdirSync(U);
    const port: WalkPort = { ...realPort, readdir: () => { throw new Error("EACCES: permission denied"); } };
    const { changes, errors } = walkAll({ upper: U, lowers: [], lowerKnown: false, port });
    expect(changes).toEqual([]);
    expect(errors).toEqual([{ path: "/", message: "cannot list directory: EACCES: permission denied" }]);
  });
});
