// Tests of the fsdiff plugin in a running agent over a real unix socket: errors, status, frame cap, module wiring.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { RawClient, startTestAgent, tempDir } from "../../agent/testing.ts";
import type { AgentConfig } from "../../agent/plugin.ts";
import { fsdiffModule, fsdiffPlugin } from "./index.ts";
import type { FsDiffResult } from "./schemas.ts";
import { layer } from "./testkit.ts";

let t: ReturnType<typeof tempDir>;
let U: string;
let L: string;
const NO_MOUNTS = () => "22 1 252:1 / / rw - ext4 /dev/vda rw\n";

beforeAll(() => {
  t = tempDir("fsdiff-plugin-");
  L = layer(join(t.path, "lower"), ["etc/hosts", "old"]);
  const names = Array.from({ length: 300 }, (_, i) => `many/file-${String(i).padStart(3, "0")}-${"x".repeat(40)}`);
  U = layer(join(t.path, "upper"), ["etc/hosts", ".wh.old", "tmp/junk", ...names]);
});
afterAll(() => t.cleanup());

async function withAgent<T>(plugin: ReturnType<typeof fsdiffPlugin>, fn: (c: RawClient, log: string[]) => Promise<T>, maxFrameBytes?: number): Promise<T> {
  const a = await startTestAgent({ plugins: [plugin], ...(maxFrameBytes ? { config: { maxFrameBytes } } : {}) });
  const c = await RawClient.connect(a.socket);
  try {
    return await fn(c, a.log.lines);
  } finally {
    c.close();
    await a.close();
  }
}

describe("fsdiff plugin", () => {
  test("no upper dir: E_UNAVAILABLE on the wire saying what was looked for, a console line, and status says so", async () => {
    const roots = [join(t.path, "nowhere")];
    await withAgent(fsdiffPlugin({ readMountinfo: NO_MOUNTS, fallbackRoots: roots }), async (c, log) => {
      const a = await c.request({ type: "fs-diff", id: 9 });
      expect(a).toMatchObject({ id: 9, ok: false, error: { code: "E_UNAVAILABLE" } });
      expect(a.error.message).toContain("no overlay is mounted at /");
      expect(a.error.message).toContain(join(t.path, "nowhere", "upper"));
      expect(log.some((l) => l.includes("fs-diff will answer E_UNAVAILABLE"))).toBe(true);
      const s = await c.request({ type: "status" });
      expect(s.result.plugins.fsdiff.unavailable).toContain("no overlay upper dir found");
    });
  });

  test("upper found by fallback, lower unknown: answers anyway with lower_known false", async () => {
    const root = join(t.path, "fallback-root");
    layer(root, ["upper/etc/conf", "upper/.wh.gone"]);
    await withAgent(fsdiffPlugin({ readMountinfo: NO_MOUNTS, fallbackRoots: [join(t.path, "none"), root] }), async (c) => {
      const a = await c.request({ type: "fs-diff" });
      const r = a.result as FsDiffResult;
      expect(r.lower_known).toBe(false);
      expect(r.upper_dir).toBe(join(root, "upper"));
      expect(r.changes.map((x) => `${x.kind} ${x.type} ${x.path}`)).toEqual(["created file /etc/conf", "deleted other /gone"]);
      const s = await c.request({ type: "status" });
      expect(s.result.plugins.fsdiff).toEqual({ upper_dir: join(root, "upper"), lower_dirs: [], lower_known: false, source: `fallback ${join(root, "upper")}` });
    });
  });

  test("bad params are E_INVALID_PARAMS", async () => {
    await withAgent(fsdiffPlugin({ upper: U, lower: L }), async (c) => {
      for (const params of [{ limit: 0 }, { limit: 1.5 }, { include: "/etc/**" }, { unknown: 1 }, { cursor: "%%%" }]) {
        const a = await c.request({ type: "fs-diff", params });
        expect(a.error?.code).toBe("E_INVALID_PARAMS");
      }
    });
  });

  test("a small frame cap pages the answer over the socket; nothing is cut", async () => {
    const cap = 4096;
    await withAgent(
      fsdiffPlugin({ upper: U, lower: L }),
      async (c) => {
        const paths: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const a: any = await c.request({ type: "fs-diff", id: "page-" + "p".repeat(100), params: cursor ? { cursor } : {} });
          expect(a.ok).toBe(true);
          pages++;
          paths.push(...a.result.changes.map((x: { path: string }) => x.path));
          cursor = a.result.next_cursor;
        } while (cursor);
        expect(pages).toBeGreaterThan(5);
        expect(paths.length).toBe(300 + 5); // the files, /many, /etc/hosts, /old, /tmp, /tmp/junk
        expect(new Set(paths).size).toBe(paths.length);
      },
      cap,
    );
  });

  test("module: flags and the agent.json section (default excludes; a bad section is one console line)", async () => {
    const config = (file: Record<string, unknown>): AgentConfig => ({ configDir: "/etc/mvm", build: "dev", version: "t", maxFrameBytes: 1 << 20, file });
    const flags = { "overlay-mount": "/", "overlay-upper": U, "overlay-lower": L };
    const good = fsdiffModule.create({ flags, config: config({ fsdiff: { exclude: ["/tmp/**", "/many/**"] } }) })!;
    await withAgent(good as ReturnType<typeof fsdiffPlugin>, async (c) => {
      const r = (await c.request({ type: "fs-diff" })).result as FsDiffResult;
      expect(r.changes.map((x) => x.path)).toEqual(["/etc/hosts", "/old"]);
      const all = (await c.request({ type: "fs-diff", params: { exclude: [], limit: 100000 } })).result as FsDiffResult;
      expect(all.changes.length).toBe(305);
    });
    const bad = fsdiffModule.create({ flags, config: config({ fsdiff: { exclude: "/tmp/**", extra: 1 } }) })!;
    await withAgent(bad as ReturnType<typeof fsdiffPlugin>, async (c, log) => {
      const r = (await c.request({ type: "fs-diff", params: { limit: 100000 } })).result as FsDiffResult;
      expect(r.changes.length).toBe(305);
      expect(log.filter((l) => l.includes("/etc/mvm/agent.json section fsdiff")).length).toBe(1);
    });
    expect(fsdiffModule.flags && Object.keys(fsdiffModule.flags)).toEqual(["overlay-mount", "overlay-upper", "overlay-lower"]);
    expect(JSON.stringify(fsdiffModule.schemas!.fsdiff!())).toContain("exclude");
    expect(fsdiffModule.schemas!.fsdiff!()).toMatchObject({ additionalProperties: false, patternProperties: { "^x-": {} } });
  });
});
