// Against a real kernel overlayfs mount (root only): make changes through the merged dir, check fs-diff's answer.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, chmodSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RawClient, startTestAgent, tempDir, type TestAgent } from "../../agent/testing.ts";
import { fsdiffPlugin } from "./index.ts";
import type { FsDiffResult } from "./schemas.ts";
import { isRoot, layer, lines } from "./testkit.ts";

function overlaySupported(): boolean {
  if (!isRoot) return false;
  try {
    return readFileSync("/proc/filesystems", "utf8").includes("overlay");
  } catch {
    return false;
  }
}
const enabled = overlaySupported();
if (!enabled) console.warn("fsdiff overlay tests SKIPPED: they need root and overlayfs in /proc/filesystems");

let t: ReturnType<typeof tempDir> | undefined;
let M = "";
let mounted = false;
let agent: TestAgent | undefined;

function sh(argv: string[]): void {
  const r = Bun.spawnSync(argv);
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString().trim()}`);
}

beforeAll(async () => {
  if (!enabled) return;
  t = tempDir("fsdiff-overlay-");
  const L = layer(join(t.path, "lower layer"), [
    "etc/hosts",
    "etc/motd",
    "etc/old",
    "data/dir/a",
    "data/dir/b",
    "data/dir/sub/c",
    "data/keep",
    "mv/src",
  ]);
  const U = join(t.path, "upper");
  const W = join(t.path, "work");
  M = join(t.path, "merged dir");
  for (const d of [U, W, M]) mkdirSync(d);
  sh(["mount", "-t", "overlay", "overlay", "-o", `lowerdir=${L},upperdir=${U},workdir=${W}`, M]);
  mounted = true;
  // The changes, made through the merged view so the kernel writes the upper dir its own way.
  writeFileSync(join(M, "new.txt"), "hello");
  mkdirSync(join(M, "newdir"));
  mkdirSync(join(M, "deep/a/b"), { recursive: true });
  writeFileSync(join(M, "deep/a/b/file"), "f");
  appendFileSync(join(M, "etc/hosts"), "10.0.0.1 db\n");
  chmodSync(join(M, "etc/motd"), 0o600);
  unlinkSync(join(M, "etc/old"));
  rmSync(join(M, "data/dir"), { recursive: true });
  mkdirSync(join(M, "data/dir"));
  writeFileSync(join(M, "data/dir/a"), "again");
  renameSync(join(M, "mv/src"), join(M, "mv/dst"));
  symlinkSync("/etc/hosts", join(M, "link"));
  symlinkSync("/etc", join(M, "linkdir"));
  symlinkSync("loop", join(M, "loop"));
  writeFileSync(join(M, "bad\nname"), "nl");
  agent = await startTestAgent({ plugins: [fsdiffPlugin({ mountPoint: M, fallbackRoots: [] })] });
});

afterAll(async () => {
  await agent?.close();
  if (mounted) {
    const r = Bun.spawnSync(["umount", M]);
    if (r.exitCode !== 0) Bun.spawnSync(["umount", "-l", M]);
  }
  t?.cleanup();
});

describe.skipIf(!enabled)("fs-diff on a real overlayfs mount", () => {
  test("the answer lists exactly what was created, modified and deleted, in path order", async () => {
    const c = await RawClient.connect(agent!.socket);
    try {
      const a = await c.request({ type: "fs-diff", id: 1 });
      expect(a.ok).toBe(true);
      const r = a.result as FsDiffResult;
      expect(r.upper_dir).toBe(join(t!.path, "upper"));
      expect(r.lower_known).toBe(true);
      expect(r.errors).toEqual([]);
      expect(r.next_cursor).toBeNull();
      expect(lines(r.changes)).toEqual([
        "created file /bad\nname 2",
        "modified dir /data/dir",
        "modified file /data/dir/a 5",
        "deleted file /data/dir/b",
        "deleted dir /data/dir/sub",
        "created dir /deep",
        "created dir /deep/a",
        "created dir /deep/a/b",
        "created file /deep/a/b/file 1",
        `modified file /etc/hosts ${"etc/hosts".length + "10.0.0.1 db\n".length}`,
        `modified file /etc/motd ${"etc/motd".length}`,
        "deleted file /etc/old",
        "created symlink /link 10",
        "created symlink /linkdir 4",
        "created symlink /loop 4",
        `created file /mv/dst ${"mv/src".length}`,
        "deleted file /mv/src",
        "created file /new.txt 5",
        "created dir /newdir",
      ]);
      expect(r.summary).toEqual({ created: 11, modified: 4, deleted: 4, bytes: 2 + 5 + 1 + 21 + 8 + 10 + 4 + 4 + 6 + 5 });
    } finally {
      c.close();
    }
  });

  test("filters and paging work the same on the real mount", async () => {
    const c = await RawClient.connect(agent!.socket);
    try {
      const only = await c.request({ type: "fs-diff", params: { include: ["/etc/**", "/data/**"], exclude: ["/data/dir/sub"] } });
      expect((only.result as FsDiffResult).changes.map((x) => x.path)).toEqual(["/data/dir", "/data/dir/a", "/data/dir/b", "/etc/hosts", "/etc/motd", "/etc/old"]);
      const paths: string[] = [];
      let cursor: string | null = null;
      do {
        const a: any = await c.request({ type: "fs-diff", params: cursor ? { limit: 4, cursor } : { limit: 4 } });
        expect(a.ok).toBe(true);
        expect(a.result.changes.length).toBeLessThanOrEqual(4);
        paths.push(...a.result.changes.map((x: { path: string }) => x.path));
        cursor = a.result.next_cursor;
      } while (cursor);
      expect(paths.length).toBe(19);
      expect(new Set(paths).size).toBe(19);
    } finally {
      c.close();
    }
  });
});
