// Tests of the fs-diff request logic: paging by limit and frame cap, filters, cursors, summary.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AgentError } from "../../agent/errors.ts";
import { compileExcludes, fsDiff, type DiffDeps } from "./diff.ts";
import type { Layers } from "./layers.ts";
import type { FsChange, FsDiffParams, FsDiffResult } from "./schemas.ts";
import { fastTempDir, layer } from "./testkit.ts";
import { realPort, type WalkPort } from "./walk.ts";

let t: ReturnType<typeof fastTempDir>;
let small: Layers;
let big: Layers;
const BIG_DIRS = 50;
const BIG_FILES = 495; // per dir; plus 4 OCI whiteouts per dir and the 50 dirs = 25 000 entries

beforeAll(() => {
  t = fastTempDir("fsdiff-diff-");
  const L = layer(join(t.path, "lower"), ["etc/hosts", "etc/gone", "tmp/old", "var/log/x"]);
  const U = layer(join(t.path, "upper"), ["etc/hosts", "etc/.wh.gone", "etc/new.conf", "tmp/cache/a", "tmp/cache/b", "var/log/x", "home/u/a\nb.txt"]);
  small = { upper: U, lowers: [L], lowerKnown: true, xattrPrefix: "trusted.overlay.", source: "test", lowerNote: "test" };
  const BL = join(t.path, "big-lower");
  const BU = join(t.path, "big-upper");
  mkdirSync(BL);
  for (let d = 0; d < BIG_DIRS; d++) {
    const dir = join(BU, `dir-${String(d).padStart(2, "0")}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < BIG_FILES; f++) writeFileSync(join(dir, `file-${f}`), "x");
    for (let w = 0; w < 4; w++) writeFileSync(join(dir, `.wh.removed-${w}`), "");
  }
  big = { upper: BU, lowers: [BL], lowerKnown: true, xattrPrefix: "trusted.overlay.", source: "test", lowerNote: "test" };
});
afterAll(() => t.cleanup());

function deps(layers: Layers, exclude: string[] = [], port?: WalkPort): DiffDeps {
  return { layers: () => layers, defaultExclude: compileExcludes(exclude), port };
}

async function run(params: FsDiffParams, d: DiffDeps, maxFrameBytes = 1 << 20): Promise<FsDiffResult> {
  return fsDiff(params, { maxFrameBytes }, d);
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AgentError);
    return (e as AgentError).code;
  }
  throw new Error("expected an AgentError");
}

/** The answer as the core would frame it, in bytes. */
function frameBytes(r: FsDiffResult): number {
  return Buffer.byteLength(JSON.stringify({ id: "x".repeat(128), type: "fs-diff", ok: true, result: r }));
}

describe("fs-diff", () => {
  test("one page: changes, summary, no cursor", async () => {
    const r = await run({}, deps(small));
    expect(r.changes.map((c) => `${c.kind} ${c.path}`)).toEqual([
      "deleted /etc/gone",
      "modified /etc/hosts",
      "created /etc/new.conf",
      "created /home",
      "created /home/u",
      "created /home/u/a\nb.txt",
      "created /tmp/cache",
      "created /tmp/cache/a",
      "created /tmp/cache/b",
      "modified /var/log/x",
    ]);
    const bytes = r.changes.filter((c) => c.kind !== "deleted").reduce((n, c) => n + c.size, 0);
    expect(r.summary).toEqual({ created: 7, modified: 2, deleted: 1, bytes });
    expect(r.next_cursor).toBeNull();
    expect(r.upper_dir).toBe(small.upper);
    expect(r.lower_known).toBe(true);
    expect(r.errors).toEqual([]);
    // The newline survives a JSON round trip.
    expect((JSON.parse(JSON.stringify(r)) as FsDiffResult).changes[5]!.path).toBe("/home/u/a\nb.txt");
  });

  test("include, exclude (beats include), default excludes, and a request exclude replacing them", async () => {
    const paths = (r: FsDiffResult) => r.changes.map((c) => c.path);
    expect(paths(await run({ include: ["/etc/**"] }, deps(small)))).toEqual(["/etc/gone", "/etc/hosts", "/etc/new.conf"]);
    expect(paths(await run({ include: ["/etc/**"], exclude: ["**/*.conf"] }, deps(small)))).toEqual(["/etc/gone", "/etc/hosts"]);
    const withDefault = paths(await run({}, deps(small, ["/tmp/**", "/home/**"])));
    expect(withDefault).toEqual(["/etc/gone", "/etc/hosts", "/etc/new.conf", "/var/log/x"]);
    expect(paths(await run({ exclude: [] }, deps(small, ["/tmp/**"])))).toContain("/tmp/cache/a");
    expect(paths(await run({ include: ["/home/*/*.txt"] }, deps(small)))).toEqual(["/home/u/a\nb.txt"]);
  });

  test("an excluded DIR/** subtree is not read at all", async () => {
    const read: string[] = [];
    const port: WalkPort = { ...realPort, readdir: (d) => (read.push(d), realPort.readdir(d)) };
    await run({}, deps(small, ["/tmp/**"], port));
    expect(read).not.toContain(join(small.upper, "tmp"));
    expect(read).toContain(join(small.upper, "etc"));
  });

  test("bad cursors are E_INVALID_PARAMS; an entry larger than the frame cap is E_RESULT_TOO_LARGE", async () => {
    expect(await code(run({ cursor: "not a cursor" }, deps(small)))).toBe("E_INVALID_PARAMS");
    expect(await code(run({ cursor: Buffer.from("v2:/x").toString("base64url") }, deps(small)))).toBe("E_INVALID_PARAMS");
    expect(await code(run({}, deps(small), 1200))).toBe("E_RESULT_TOO_LARGE");
  });

  test("unavailable layers surface as the error the resolver throws", async () => {
    const d: DiffDeps = {
      layers: () => {
        throw new AgentError("E_UNAVAILABLE", "no overlay upper dir found: looked in /x");
      },
      defaultExclude: compileExcludes([]),
    };
    expect(await code(run({}, d))).toBe("E_UNAVAILABLE");
  });

  test("paging across a 25 000-entry diff returns every entry exactly once, each page within the frame cap", async () => {
    const all = await run({ limit: 100_000 }, deps(big), 16 << 20);
    expect(all.next_cursor).toBeNull();
    expect(all.changes.length).toBe(25_000);
    expect(all.summary).toEqual({ created: BIG_DIRS * (BIG_FILES + 1), modified: 0, deleted: BIG_DIRS * 4, bytes: BIG_DIRS * BIG_FILES });

    const cap = 64 * 1024;
    const seen: FsChange[] = [];
    let cursor: string | undefined;
    let pages = 0;
    let byLimit = 0;
    for (;;) {
      const limit = pages % 2 === 0 ? 3000 : 100_000; // alternate: pages cut by limit, pages cut by the frame cap
      const r: FsDiffResult = await run(cursor ? { cursor, limit } : { limit }, deps(big), cap);
      pages++;
      expect(frameBytes(r)).toBeLessThanOrEqual(cap);
      if (r.changes.length === limit) byLimit++;
      seen.push(...r.changes);
      if (r.next_cursor === null) break;
      cursor = r.next_cursor;
    }
    expect(pages).toBeGreaterThan(10);
    expect(byLimit).toBe(0); // 3000 entries never fit 64 KiB: the frame cap shrank every page
    expect(seen.length).toBe(25_000);
    expect(new Set(seen.map((c) => c.path)).size).toBe(25_000);
    expect(seen).toEqual(all.changes);
  });

  test("paging by limit alone: pages of exactly `limit` until the last", async () => {
    const sizes: number[] = [];
    let cursor: string | undefined;
    let total = 0;
    do {
      const r: FsDiffResult = await run({ limit: 7000, ...(cursor ? { cursor } : {}) }, deps(big), 16 << 20);
      sizes.push(r.changes.length);
      total += r.summary.created + r.summary.deleted;
      cursor = r.next_cursor ?? undefined;
    } while (cursor);
    expect(sizes).toEqual([7000, 7000, 7000, 4000]);
    expect(total).toBe(25_000);
  });

  test("errors page like changes: each unreadable directory is reported once", async () => {
    const port: WalkPort = {
      ...realPort,
      readdir: (d) => {
        if (/dir-(07|33)$/.test(d)) throw new Error("EACCES: permission denied");
        return realPort.readdir(d);
      },
    };
    const errors: string[] = [];
    let changes = 0;
    let cursor: string | undefined;
    do {
      const r: FsDiffResult = await run({ limit: 999, ...(cursor ? { cursor } : {}) }, deps(big, [], port), 1 << 20);
      errors.push(...r.errors.map((e) => e.path));
      changes += r.changes.length;
      cursor = r.next_cursor ?? undefined;
    } while (cursor);
    expect(errors).toEqual(["/dir-07", "/dir-33"]);
    expect(changes).toBe(25_000 - 2 * (BIG_FILES + 4));
  });
});

describe("fs-diff summary_only (count mode)", () => {
  test("the whole walk's totals in one small answer, equal to the sum of every page's; filters apply", async () => {
    const r = await run({ summary_only: true }, deps(big), 64 * 1024);
    expect(r).toEqual({
      upper_dir: big.upper,
      lower_known: true,
      changes: [],
      summary: { created: BIG_DIRS * (BIG_FILES + 1), modified: 0, deleted: BIG_DIRS * 4, bytes: BIG_DIRS * BIG_FILES },
      errors: [],
      next_cursor: null,
    });
    expect(frameBytes(r)).toBeLessThan(1024);
    // What a client paging with limit 1 (the old dashboard) would have seen: one page's summary only.
    expect((await run({ limit: 1 }, deps(big))).summary).toEqual({ created: 1, modified: 0, deleted: 0, bytes: 0 });
    const some = await run({ summary_only: true, include: ["/dir-0[0-4]/**"], exclude: ["**/.wh.*", "**/file-1*"] }, deps(big));
    const paged = await run({ include: ["/dir-0[0-4]/**"], exclude: ["**/.wh.*", "**/file-1*"], limit: 100_000 }, deps(big), 16 << 20);
    expect(some.summary).toEqual(paged.summary);
    expect(some.summary.created).toBeGreaterThan(0);
    const smallOne = await run({ summary_only: true }, deps(small, ["/tmp/**"]));
    expect(smallOne.summary).toEqual((await run({}, deps(small, ["/tmp/**"]))).summary);
  });

  test("with limit or cursor it is E_INVALID_PARAMS; a walk with many errors keeps the first 100 within the frame and counts the rest", async () => {
    expect(await code(run({ summary_only: true, limit: 5 }, deps(small)))).toBe("E_INVALID_PARAMS");
    const port: WalkPort = {
      ...realPort,
      readdir: (d) => {
        if (/dir-\d\d$/.test(d)) throw new Error("EACCES: permission denied");
        return realPort.readdir(d);
      },
    };
    const r = await run({ summary_only: true }, deps(big, [], port));
    expect(r.errors.length).toBe(BIG_DIRS);
    expect(r.errors_omitted).toBeUndefined();
    const tight = await run({ summary_only: true }, deps(big, [], port), 4096);
    expect(frameBytes(tight)).toBeLessThanOrEqual(4096);
    expect(tight.errors_omitted).toBeGreaterThan(0);
    expect(tight.errors.length + tight.errors_omitted!).toBe(BIG_DIRS);
    expect(tight.summary.created).toBe(BIG_DIRS); // the 50 directories themselves
  });
});

test("changeBytes equals the JSON size of a change", async () => {
  const { changeBytes } = await import("./diff.ts");
  for (const path of ["/etc/hosts", '/a"b', "/a\\b", "/a\nb", "/é😀", "/\u0001", "/" + "x".repeat(300)]) {
    for (const c of [
      { path, kind: "created", type: "file", size: 123456 },
      { path, kind: "deleted", type: "other", size: 0 },
      { path, kind: "modified", type: "symlink", size: 7 },
    ] as FsChange[]) {
      expect(changeBytes(c)).toBe(Buffer.byteLength(JSON.stringify(c)));
    }
  }
});
