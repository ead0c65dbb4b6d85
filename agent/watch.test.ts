// --plugin and --watch: the supervisor's rules with fake children on a manual clock, then real agent processes
// restarted by real file changes, and nothing left behind when the supervisor stops or is killed.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ManualClock } from "./clock.ts";
import { memoryLogger } from "./log.ts";
import { scanPluginArgs } from "./plugin-file.ts";
import { tempDir, waitFor } from "./testing.ts";
import { isWatchedChange, superviseWatch, type WatchChild } from "./watch.ts";
import { alive, call, ROOT, spawnAgent, type SpawnedAgent } from "../test/support/index.ts";

/** A child that exits when told to by a signal it honours (SIGTERM unless `stubborn`), and always on SIGKILL. */
function fakeChild(pid: number, stubborn = false) {
  let exit!: (code: number) => void;
  const exited = new Promise<number>((r) => (exit = r));
  const signals: string[] = [];
  const c: WatchChild & { signals: string[]; exit(code: number): void } = {
    pid,
    exited,
    signals,
    exit,
    kill(sig = "SIGTERM") {
      signals.push(String(sig));
      if (sig === "SIGKILL") exit(137);
      else if (sig === "SIGTERM" && !stubborn) exit(0);
    },
  };
  return c;
}

function harness(opts: { stubborn?: boolean } = {}) {
  const clock = new ManualClock();
  const log = memoryLogger();
  const children: ReturnType<typeof fakeChild>[] = [];
  const onChange: ((f: string) => void)[] = [];
  const closed: string[] = [];
  const w = superviseWatch({
    files: ["/src/acme/index.ts", "/src/acme/extra.ts", "/src/other/p.ts"],
    log,
    clock,
    debounceMs: 100,
    stopTimeoutMs: 5000,
    spawn: () => {
      const c = fakeChild(100 + children.length, opts.stubborn);
      children.push(c);
      return c;
    },
    watchDir: (dir, fn) => {
      onChange.push(fn);
      return { close: () => void closed.push(dir) };
    },
  });
  return { w, clock, log, children, onChange, closed };
}

describe("the supervisor (fake children, manual clock)", () => {
  test("one watcher per directory; a burst of changes restarts once, after the old child exited", async () => {
    const h = harness();
    expect(h.onChange.length).toBe(2); // /src/acme and /src/other
    expect(h.children.length).toBe(1);
    for (let i = 0; i < 5; i++) h.onChange[0]!("index.ts");
    await h.clock.advance(99);
    expect(h.children.length).toBe(1);
    await h.clock.advance(1);
    await waitFor(() => h.children.length === 2);
    expect(h.children[0]!.signals).toEqual(["SIGTERM"]);
    expect(h.w.restarts).toBe(1);
    expect(h.w.childPid).toBe(101);
    expect(h.log.lines.some((l) => l.includes("index.ts changed: restarting"))).toBe(true);
    expect(await h.w.stop()).toBe(0);
    expect(h.closed.sort()).toEqual(["/src/acme", "/src/other"]);
    expect(h.clock.pending()).toBe(0);
  });

  test("files that are not sources, or under node_modules or a hidden directory, restart nothing", async () => {
    const h = harness();
    for (const f of ["README.md", "agent.sock", "etc/probes.d/x.json", "node_modules/x/index.js", ".git/index", ".cache/a.ts", "dist/mvm-guest-agent"]) h.onChange[0]!(f);
    await h.clock.advance(1000);
    expect(h.children.length).toBe(1);
    expect(h.clock.pending()).toBe(0);
    for (const f of ["lib/util.ts", "a.tsx", "b.mjs", "c.cjs", "d.js"]) expect(isWatchedChange(f)).toBe(true);
    await h.w.stop();
  });

  test("a child that exits by itself is not restarted until the next change", async () => {
    const h = harness();
    h.children[0]!.exit(2);
    await waitFor(() => h.log.lines.some((l) => l.includes("the agent exited (code 2); waiting for a change")));
    expect(h.w.childPid).toBeUndefined();
    await h.clock.advance(10_000);
    expect(h.children.length).toBe(1);
    h.onChange[1]!("p.ts");
    await h.clock.advance(100);
    await waitFor(() => h.children.length === 2);
    expect(h.children[0]!.signals).toEqual([]); // nothing to stop
    await h.w.stop();
  });

  test("a child that ignores SIGTERM is killed at the stop deadline", async () => {
    const h = harness({ stubborn: true });
    const stopped = h.w.stop();
    await waitFor(() => h.children[0]!.signals.length === 1);
    await h.clock.advance(4999);
    expect(h.children[0]!.signals).toEqual(["SIGTERM"]);
    await h.clock.advance(1);
    expect(await stopped).toBe(137);
    expect(h.children[0]!.signals).toEqual(["SIGTERM", "SIGKILL"]);
    // After stop, changes do nothing.
    h.onChange[0]!("index.ts");
    await h.clock.advance(1000);
    expect(h.children.length).toBe(1);
  });

  test("a directory that cannot be watched is said, and the agent runs anyway", async () => {
    const log = memoryLogger();
    const children: ReturnType<typeof fakeChild>[] = [];
    let fail!: (e: Error) => void;
    const w = superviseWatch({
      files: ["/a/x.ts", "/b/y.ts"],
      log,
      clock: new ManualClock(),
      spawn: () => {
        const c = fakeChild(1);
        children.push(c);
        return c;
      },
      watchDir: (dir, _fn, onError) => {
        if (dir === "/a") throw new Error("ENOSPC: no space left on device, watch");
        fail = onError;
        return { close() {} };
      },
    });
    expect(children.length).toBe(1);
    fail(new Error("EACCES"));
    expect(log.lines.filter((l) => l.includes("cannot watch")).map((l) => l.replace(/^.* WARN  core /, ""))).toEqual([
      "cannot watch /a (ENOSPC: no space left on device, watch): changes there do not restart the agent; restart it by hand",
      "cannot watch /b (EACCES): changes there do not restart the agent; restart it by hand",
    ]);
    await w.stop();
  });

  test("SIGHUP is passed to the child", async () => {
    const h = harness();
    h.w.signal("SIGHUP");
    expect(h.children[0]!.signals).toEqual(["SIGHUP"]);
    await h.w.stop();
  });
});

describe("scanPluginArgs", () => {
  test("finds --plugin in every form, --watch and --no-watch, and nothing after --", () => {
    expect(scanPluginArgs(["--plugin", "a.ts", "--listen", "unix:/x", "--plugin=b.ts", "--watch", "--", "--plugin", "c.ts"])).toEqual({ plugins: ["a.ts", "b.ts"], watch: true, watchAt: [5] });
    expect(scanPluginArgs(["--watch", "--no-watch"]).watch).toBe(false);
    expect(scanPluginArgs(["--watch=false"]).watch).toBe(false);
    expect(scanPluginArgs([]).plugins).toEqual([]);
  });
});

/** A plugin project on disk: index.ts reads its answer from lib.ts, so a change to either file matters. */
function writePlugin(dir: string, version: number | string, opts: { broken?: boolean } = {}) {
  writeFileSync(join(dir, "lib.ts"), `export const VERSION = ${JSON.stringify(version)};\n`);
  writeFileSync(
    join(dir, "index.ts"),
    opts.broken
      ? "export default {{ this is not TypeScript\n"
      : `import { Type } from "@sinclair/typebox";
import { definePlugin } from ${JSON.stringify(join(ROOT, "agent/plugin.ts"))};
import { VERSION } from "./lib.ts";
export default definePlugin({
  name: "w",
  create: () => ({
    requests: { "w.version": { params: Type.Object({}), result: Type.Object({ v: Type.Unknown(), pid: Type.Integer() }), description: "v", handle: () => ({ v: VERSION, pid: process.pid }) } },
  }),
});
`,
  );
}

describe("mvm-guest-agent --plugin FILE --watch (real processes)", () => {
  const d = tempDir("mvm-watch-");
  const agents: SpawnedAgent[] = [];
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    d.cleanup();
  });

  /** w.version over a fresh connection, or null while the agent restarts. */
  const version = async (a: SpawnedAgent): Promise<{ v: unknown; pid: number } | null> => {
    try {
      const r = await call(a.socket, { type: "w.version" }, 5000);
      return r.ok ? r.result : null;
    } catch {
      return null;
    }
  };

  test("a change to the plugin or a file it imports restarts the agent; a broken file waits for the fix; SIGTERM leaves nothing", async () => {
    const src = join(d.path, "proj");
    mkdirSync(src);
    writePlugin(src, 1);
    const a = await spawnAgent({ args: ["--plugin", join(src, "index.ts"), "--watch", "--no-subreaper"] });
    agents.push(a);
    const first = (await version(a))!;
    expect(first.v).toBe(1);
    expect(first.pid).not.toBe(a.pid); // the agent is the supervisor's child

    writeFileSync(join(src, "lib.ts"), `export const VERSION = 2;\n`);
    let now: { v: unknown; pid: number } | null = null;
    await waitFor(async () => (now = await version(a))?.v === 2, 30_000, "the restarted agent");
    expect(now!.pid).not.toBe(first.pid);
    expect(alive(first.pid)).toBe(false);

    // SIGHUP reaches the child: it reloads.
    process.kill(a.pid, "SIGHUP");
    await waitFor(() => a.console().includes("reload requested"), 30_000, "the child's reload line");

    writePlugin(src, 3, { broken: true });
    await waitFor(() => /the agent exited \(code 2\); waiting for a change/.test(a.console()), 30_000, "the failed start");
    expect(existsSync(a.socket)).toBe(false);
    expect(alive(now!.pid)).toBe(false);
    writePlugin(src, 4);
    await waitFor(async () => (now = await version(a))?.v === 4, 30_000, "the fixed agent");

    expect(await a.stop()).toBe(0);
    expect(alive(now!.pid)).toBe(false);
    expect(existsSync(a.socket)).toBe(false);
  });

  test("a supervisor killed with SIGKILL takes its agent with it (the child's stdin closes)", async () => {
    const src = join(d.path, "proj2");
    mkdirSync(src);
    writePlugin(src, "k");
    const a = await spawnAgent({ args: ["--plugin", join(src, "index.ts"), "--watch", "--no-subreaper"] });
    agents.push(a);
    const child = (await version(a))!.pid;
    process.kill(a.pid, "SIGKILL");
    await waitFor(() => !alive(child), 30_000, "the orphaned agent to stop");
    expect(existsSync(a.socket)).toBe(false); // stopped gracefully: its socket removed
  });
});
