// --watch on ls, health and probes: one line per change into a pipe (table, JSON lines, names), in-place redraws on a
// terminal (in memory and on a real pty), errors shown and outlived, Ctrl-C with exit 0 and no timer left.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { ManualClock } from "../../agent/clock.ts";
import { waitFor } from "../../agent/testing.ts";
import { fakePlugins, fakeState, type FakeState, fleet, memoryIO, mvmctl } from "../testing.ts";
import { havePty, mvmctlInPty, type PtyRun } from "../testing-pty.ts";
import { AgentClient } from "../client/agent-client.ts";
import { runCli } from "./run.ts";

let f: Awaited<ReturnType<typeof fleet>>;
let s1: FakeState;
let s2: FakeState;
let listed: { name: string; agent: string }[];

beforeAll(async () => {
  s1 = fakeState();
  s2 = fakeState();
  f = await fleet([{ name: "vm1", plugins: fakePlugins(s1) }, { name: "vm2", plugins: fakePlugins(s2) }]);
  listed = [
    { name: "vm1", agent: `unix:${f.agents[0]!.socket}` },
    { name: "vm2", agent: `unix:${f.agents[1]!.socket}` },
  ];
});
afterAll(async () => {
  await f.close();
});
afterEach(() => {
  s1.worker = "idle";
  s2.worker = "idle";
  writeFileSync(f.vmsFile, JSON.stringify({ vms: listed }));
});

/** mvmctl in memory on a manual clock; `tick()` lets the next round run once the current one is waiting. */
function watching(argv: string[], opts: { tty?: boolean; rows?: number; columns?: number } = {}) {
  const clock = new ManualClock();
  const m = memoryIO({ clock, env: { NO_COLOR: "1" }, ...opts });
  const done = runCli(["--vms", f.vmsFile, ...argv], m.io);
  let rounds = 0;
  return {
    m,
    clock,
    done,
    /** Wait until round `n` has been drawn and is sleeping. */
    async settled(what: string) {
      rounds++;
      const seen = m.stdout + m.stderr;
      await waitFor(() => clock.pending() === 1, 10_000, `${what} (round ${rounds})`);
      return seen;
    },
    async next(what: string, until: () => boolean) {
      await clock.advance(2000);
      await waitFor(() => until() && clock.pending() === 1, 10_000, what);
    },
  };
}

describe("--watch into a pipe: one line per change", () => {
  test("ls: the table first; then only a row that changed, a VM added, a VM gone; nothing when nothing changed; Ctrl-C exit 0", async () => {
    const w = watching(["ls", "--watch"]);
    await w.settled("the first table");
    const first = w.m.stdout;
    expect(first).toMatch(/^NAME +REACHABLE.*\nvm1 +yes +running +idle .*\nvm2 +yes .*\n2 VMs: 2 reachable, 0 unreachable\n$/);
    await w.next("a round with no change", () => true);
    expect(w.m.stdout).toBe(first); // uptime moved, but that is not a change
    s2.worker = "busy";
    await w.next("vm2's change", () => w.m.stdout.length > first.length);
    expect(w.m.stdout.slice(first.length)).toMatch(/^vm2 +yes +running +busy +\S.*ready.*\n$/);
    const before = w.m.stdout.length;
    writeFileSync(f.vmsFile, JSON.stringify({ vms: [listed[1], { name: "gone", agent: "unix:/nonexistent/gone.sock" }] }));
    await w.next("vm1 gone, gone added", () => w.m.stdout.length > before);
    expect(w.m.stdout.slice(before)).toMatch(/^gone +no +- +- +- +E_SOCKET_MISSING: .*\nvm1 {2}\(gone\)\n$/);
    // The watch closed its connection to the VM that left the list: only this check's own is left.
    const check = new AgentClient(listed[0]!.agent);
    try {
      await waitFor(async () => (await check.call("status")).connections === 1, 10_000, "vm1's watch connection to close");
    } finally {
      await check.close();
    }
    w.m.stop.abort();
    expect(await w.done).toBe(0);
    expect(w.clock.pending()).toBe(0);
    expect(w.m.stderr).toBe("");
  });

  test("-o json: one compact document a line, when anything changed; -o name: each new name", async () => {
    const w = watching(["ls", "--watch", "-o", "json"]);
    await w.settled("the first document");
    s1.worker = "busy";
    await w.next("the second document", () => w.m.stdout.split("\n").length === 3);
    const docs = w.m.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(docs.map((d) => d.vms[0].worker)).toEqual(["idle", "busy"]);
    w.m.stop.abort();
    expect(await w.done).toBe(0);
    const n = watching(["ls", "--watch", "-o", "name"]);
    await n.settled("the names");
    expect(n.m.stdout).toBe("vm1\nvm2\n");
    writeFileSync(f.vmsFile, JSON.stringify({ vms: [...listed, { name: "vm3", agent: listed[0]!.agent }] }));
    await n.next("vm3", () => n.m.stdout.endsWith("vm3\n"));
    expect(n.m.stdout).toBe("vm1\nvm2\nvm3\n");
    n.m.stop.abort();
    expect(await n.done).toBe(0);
  });

  test("health --watch: an error is said once on stderr while it lasts, and the watch goes on", async () => {
    const w = watching(["--timeout", "0.1", "health", "vm1", "--watch"]);
    await w.settled("the first table");
    s1.hang.add("health");
    try {
      await w.next("the timeout", () => w.m.stderr.includes("E_CLIENT_TIMEOUT"));
    } finally {
      s1.hang.delete("health");
    }
    s1.hang.add("health");
    await w.next("the same error again", () => true);
    s1.hang.delete("health");
    expect(w.m.stderr.match(/E_CLIENT_TIMEOUT/g)).toHaveLength(1);
    w.m.stop.abort();
    expect(await w.done).toBe(0);
  });

  test("refusals: --interval without --watch or out of range, --check/--run with --watch", async () => {
    const run = (...argv: string[]) => mvmctl(["--vms", f.vmsFile, ...argv]);
    expect(await run("ls", "--interval", "5")).toMatchObject({ code: 2, stderr: "mvmctl: ls: --interval needs --watch\n" });
    expect((await run("ls", "--watch", "--interval", "0")).stderr).toContain("--interval expects seconds from 0.1 to 3600, got 0");
    expect((await run("ls", "--watch", "--interval", "1e9")).code).toBe(2);
    expect((await run("health", "vm1", "--check", "web", "--watch")).stderr).toContain("--check runs once; it cannot be watched");
    expect((await run("probes", "vm1", "--run", "disk-usage", "-w")).code).toBe(2);
  });
});

describe("--watch on a terminal: redrawn in place", () => {
  test("each frame goes back up over the last one and clears below; a frame taller than the terminal is cut to fit", async () => {
    const w = watching(["ls", "--watch"], { tty: true, rows: 30, columns: 100 });
    await w.settled("the first frame");
    const first = w.m.stdout;
    expect(first).toMatch(/^\x1b\[JEvery 2 s: mvmctl ls {2}\(Ctrl-C to stop\) {2}\d\d:\d\d:\d\d\n\nNAME/);
    const lines = first.split("\n").length - 1;
    await w.next("the second frame", () => w.m.stdout.length > first.length);
    expect(w.m.stdout.slice(first.length)).toStartWith(`\x1b[${lines}A\r\x1b[J`);
    w.m.stop.abort();
    expect(await w.done).toBe(0);
    const small = watching(["ls", "--watch"], { tty: true, rows: 5, columns: 100 });
    await small.settled("a cut frame");
    expect(small.m.stdout.split("\n").length - 1).toBe(4);
    expect(small.m.stdout).toContain("more lines (a taller terminal shows them)");
    small.m.stop.abort();
    expect(await small.done).toBe(0);
  });
});

let pty: PtyRun | null = null;
afterEach(() => {
  pty?.kill();
  pty = null;
});

describe.skipIf(!havePty())("--watch on a real terminal (pty): Ctrl-C", () => {
  test("ls --watch redraws as a VM changes, and Ctrl-C ends it with exit 0", async () => {
    pty = mvmctlInPty(["--vms", f.vmsFile, "ls", "--watch", "--interval", "0.2"], { env: { TERM: "xterm" } });
    await pty.waitFor(/vm2\S* +\S*yes\S* +\S*running\S* +\S*idle/);
    s2.worker = "busy";
    await pty.waitFor(/\x1b\[\d+A\r\x1b\[J[^]*vm2\S* +\S*yes\S* +\S*running\S* +\S*busy/);
    pty.interrupt();
    expect(await pty.exited).toBe(0);
  });
});
