// Steps as they happen: the renderer (live line, ticker, plain lines, escaping, widths), and sleep-prep/wake on a
// real terminal (a pty) against a real agent whose checkpoint takes a while.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ManualClock } from "../../agent/clock.ts";
import { tempDir } from "../../agent/testing.ts";
import { loopAgent, memoryIO, type LoopAgent } from "../testing.ts";
import { havePty, mvmctlInPty, type PtyRun } from "../testing-pty.ts";
import type { CliIO } from "./io.ts";
import { stepRenderer } from "./progress.ts";

/** A CliIO for the renderer alone: what it wrote, on a manual clock. */
function rendererIO(o: { live: boolean; width?: number; color?: boolean }) {
  const m = memoryIO();
  const clock = new ManualClock();
  const io: CliIO = { ...m.io, color: o.color ?? false, live: o.live, width: o.width, clock, globals: { timeoutMs: 5000 } };
  return { io, clock, out: () => m.stdout };
}

describe("stepRenderer", () => {
  test("live: running steps share a last line with their elapsed time, redrawn by a ticker; an ended step's line replaces it; close leaves no timer", async () => {
    const { io, clock, out } = rendererIO({ live: true, width: 80 });
    const r = stepRenderer(io, 14);
    r.step({ name: "checkpoint:db", status: "running", ms: 0, detail: "" });
    r.step({ name: "checkpoint:web", status: "running", ms: 0, detail: "" });
    expect(out()).toContain("..    checkpoint:db, checkpoint:web      0 ms");
    await clock.advance(1600);
    expect(out()).toContain("\r\x1b[2K  ..    checkpoint:db, checkpoint:web     1.6 s");
    r.step({ name: "checkpoint:db", status: "ok", ms: 1480, detail: "exit 0" });
    expect(out()).toEndWith("\r\x1b[2K  ok    checkpoint:db      1.5 s  exit 0\n  ..    checkpoint:web     1.6 s");
    r.step({ name: "checkpoint:web", status: "failed", ms: 1600, detail: "exit 3" });
    expect(out()).toEndWith("\r\x1b[2K  FAIL  checkpoint:web     1.6 s  exit 3\n");
    expect(clock.pending()).toBe(0);
    expect([...r.ended]).toEqual(["checkpoint:db", "checkpoint:web"]);
    r.close();
    expect(clock.pending()).toBe(0);
  });

  test("close erases a live line whose step never ended (a failure mid-step), and stops its ticker", async () => {
    const { io, clock, out } = rendererIO({ live: true });
    const r = stepRenderer(io, 10);
    r.step({ name: "sync", status: "running", ms: 0, detail: "" });
    expect(clock.pending()).toBe(1);
    r.close();
    expect(out()).toEndWith("\r\x1b[2K");
    expect(clock.pending()).toBe(0);
  });

  test("not live (a pipe, TERM=dumb): ended steps only, no escape, no timer", async () => {
    const { io, clock, out } = rendererIO({ live: false });
    const r = stepRenderer(io, 10);
    r.step({ name: "sync", status: "running", ms: 0, detail: "" });
    await clock.advance(1000);
    r.step({ name: "sync", status: "ok", ms: 3, detail: "" });
    r.close();
    expect(out()).toBe("  ok    sync            3 ms\n");
    expect(clock.pending()).toBe(0);
  });

  test("hostile names and details are escaped; the live line never outgrows a narrow terminal; a huge width cuts nothing", () => {
    const narrow = rendererIO({ live: true, width: 20 });
    const r = stepRenderer(narrow.io, 10);
    r.step({ name: "restore:\x1b]0;pwned\x07", status: "running", ms: 0, detail: "" });
    r.step({ name: "restore:\x1b]0;pwned\x07", status: "failed", ms: 5, detail: "exit 1: \x1b[2J\nforged line" });
    r.close();
    const text = narrow.out();
    expect(text).not.toContain("\x1b]");
    expect(text).not.toContain("\x07");
    expect(text).not.toContain("\x1b[2J");
    // Each piece between erases and newlines is one line on the terminal.
    const lines = text.split(/\r\x1b\[2K|\n/);
    expect(lines.filter((l) => l.includes("restore:\\e"))).not.toHaveLength(0);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(20);
    const wide = rendererIO({ live: true, width: 10_000 });
    const w = stepRenderer(wide.io, 10);
    w.step({ name: "sync", status: "ok", ms: 1, detail: "x".repeat(300) });
    w.close();
    expect(wide.out()).toContain("x".repeat(300));
  });
});

const pty = havePty();
const d = tempDir("mvmctl-progress-");
let agent: LoopAgent | null = null;
let run: PtyRun | null = null;
afterEach(async () => {
  run?.kill();
  run = null;
  await agent?.close();
  agent = null;
});
afterAll(() => d.cleanup());

/** A real agent whose checkpoint takes 0.6 s, and a vms.json naming it `app`. */
async function slowAgent(): Promise<string> {
  agent = await loopAgent({ checkpoint: "sleep 0.6; echo flushed" });
  const vms = join(d.path, `vms-${Date.now()}.json`);
  writeFileSync(vms, JSON.stringify({ vms: [{ name: "app", agent: agent.address }] }));
  return vms;
}

describe.skipIf(!pty)("sleep-prep and wake on a terminal (real pty, real agent)", () => {
  test("the running checkpoint is shown with its elapsed time, then rewritten by its ended line; wake streams its restore", async () => {
    const vms = await slowAgent();
    run = mvmctlInPty(["--vms", vms, "sleep-prep", "app"], { env: { TERM: "xterm" } });
    expect(await run.exited).toBe(0);
    const screen = run.output();
    // The live line came first, then the ended line overwrote it.
    // Colour is on (a terminal, TERM=xterm): the marks are painted.
    const live = screen.search(/\x1b\[90m\.\. {2}\x1b\[0m {2}checkpoint:app +\d+ ms/);
    const done = screen.search(/\r\x1b\[2K {2}\x1b\[32mok\x1b\[0m {4}checkpoint:app +\d+ ms {2}flushed/);
    expect(live).toBeGreaterThanOrEqual(0);
    expect(done).toBeGreaterThan(live);
    expect(screen).toMatch(/\r\x1b\[2K {2}\S*ok\S* {4}drop-caches/);
    expect(screen).toContain("app: ");
    expect(screen).toContain("ready");
    run = mvmctlInPty(["--vms", vms, "wake", "app", "--no-clock"], { env: { TERM: "xterm", NO_COLOR: "1" } });
    expect(await run.exited).toBe(0);
    expect(run.output()).toMatch(/ok {4}restore:app +\d+ ms {2}exit 0\r\n/);
    expect(run.output()).toContain("app: awake in");
  });

  test("TERM=dumb on a terminal: plain lines only, no colour, nothing rewritten", async () => {
    const vms = await slowAgent();
    run = mvmctlInPty(["--vms", vms, "sleep-prep", "app"], { env: { TERM: "dumb" } });
    expect(await run.exited).toBe(0);
    expect(run.output()).not.toContain("\x1b");
    expect(run.output()).toMatch(/^ {2}ok {4}checkpoint:app +\d+ ms {2}flushed\r\n {2}ok {4}sync/);
  });
});

describe("sleep-prep into a pipe (real child process)", () => {
  test("plain lines as each step ends, the verdict last; --json is the answer alone", async () => {
    const vms = await slowAgent();
    const bin = join(import.meta.dir, "bin.ts");
    const p = Bun.spawn([process.execPath, bin, "--vms", vms, "sleep-prep", "app"], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH! } });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(code).toBe(0);
    expect(out).toMatch(/^ {2}ok {4}checkpoint:app +\d+ ms {2}flushed\n {2}ok {4}sync +\S+ \S+ {2}test sync\n {2}ok {4}drop-caches .*\n {2}ok {4}gc +\d+ ms {2}full GC: .*\napp: ready for a snapshot in .* \(state sleeping\)\n$/);
    await agent!.client.call("wake", {});
    const j = Bun.spawn([process.execPath, bin, "--vms", vms, "sleep-prep", "app", "--json"], { stdout: "pipe", env: { PATH: process.env.PATH! } });
    const doc = JSON.parse(await new Response(j.stdout).text());
    expect(await j.exited).toBe(0);
    expect(doc.steps.map((s: { name: string }) => s.name)).toEqual(["checkpoint:app", "sync", "drop-caches", "gc"]);
  });
});
