// Output formats (-o json|wide|name, --json, --no-headers), widths (COLUMNS, the terminal's, hostile values), colour
// (--color, NO_COLOR, FORCE_COLOR, TERM=dumb, isatty; in memory and in a real process), and hostile agent text.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { fakePlugins, fakeState, type FakeState, fleet, lyingAgent, mvmctl } from "../testing.ts";
import { cut, visibleLength } from "./io.ts";
import { colorChoice, outputWidth } from "./terminal.ts";

let f: Awaited<ReturnType<typeof fleet>>;
let state: FakeState;

beforeAll(async () => {
  state = fakeState();
  state.integrations[0]!.detail = `exit 0: ${"a long detail ".repeat(20)}end`;
  f = await fleet([{ name: "vm1", plugins: fakePlugins(state) }, { name: "bare" }], [{ name: "gone", agent: "unix:/nonexistent/mvm/gone.sock" }]);
});
afterAll(async () => {
  await f.close();
});

const run = (argv: string[], opts: Parameters<typeof mvmctl>[1] = {}) => mvmctl(["--vms", f.vmsFile, ...argv], opts);

describe("-o and --no-headers", () => {
  test("ls -o name, -o wide, --no-headers; --json is -o json", async () => {
    expect((await run(["ls", "-o", "name"])).stdout).toBe("vm1\nbare\ngone\n");
    const wide = (await run(["ls", "-o", "wide"])).stdout.split("\n");
    expect(wide[0]).toMatch(/^NAME +REACHABLE +STATE +WORKER +UPTIME +HEALTH +AGENT +VERSION +LABELS$/);
    expect(wide[1]).toMatch(/ unix:\S+agent\.sock +0\.0\.0 +role=test$/);
    const bare = (await run(["ls", "--no-headers"])).stdout.split("\n");
    expect(bare[0]).toMatch(/^vm1 +yes/);
    expect(bare).toHaveLength(4); // three rows, no count line
    const a = JSON.parse((await run(["ls", "--json"])).stdout);
    const b = JSON.parse((await run(["ls", "-o", "json"])).stdout);
    // The same document (uptimes move between the two calls).
    const shape = (doc: { vms: { name: string; state: string | null; error: unknown }[] }) => doc.vms.map((v) => [v.name, v.state, v.error]);
    expect(shape(a)).toEqual(shape(b));
  });

  test("health and probes: -o name, -o wide adds the last check's columns, --no-headers drops the header and the verdict", async () => {
    expect((await run(["health", "vm1", "-o", "name"])).stdout).toBe("web\ndb\n");
    const wide = await run(["health", "vm1", "-o", "wide"]);
    expect(wide.stdout.split("\n")[0]).toMatch(/DETAIL +FAILURES +EXIT +OUTPUT$/);
    const rows = (await run(["health", "vm1", "--no-headers"])).stdout.trimEnd().split("\n");
    expect(rows.map((r) => r.split(/\s+/)[0])).toEqual(["web", "db"]);
    expect((await run(["probes", "vm1", "-o", "name"])).stdout.split("\n")[0]).toMatch(/^\S+$/);
    expect((await run(["probes", "vm1", "-o", "wide"])).stdout.split("\n")[0]).toMatch(/EXIT +TOOK +OUTPUT$/);
  });

  test("a mistyped format gets the nearest; two formats at once and a format a command lacks are refused", async () => {
    expect(await run(["ls", "-o", "jsno"])).toMatchObject({ code: 2, stderr: 'mvmctl: ls: -o: unknown output format "jsno" (did you mean json?)\n' });
    expect(await run(["ls", "--json", "-o", "wide"])).toMatchObject({ code: 2, stderr: "mvmctl: ls: --json and -o wide ask for two formats: give one\n" });
    expect((await run(["status", "vm1", "-o", "wide"])).stderr).toBe('mvmctl: status: -o: unknown output format "wide" (output formats: json)\n');
    expect((await run(["ls", "--output=yaml"])).code).toBe(2);
    expect((await run(["diff", "vm1", "-o", "name"])).code).toBe(0);
  });
});

describe("widths", () => {
  const longest = (s: string) => Math.max(...s.split("\n").map((l) => visibleLength(l)));

  test("COLUMNS (or the terminal's width) cuts table lines, the detail column first; into a pipe nothing is cut", async () => {
    const narrow = await run(["health", "vm1"], { env: { COLUMNS: "60" } });
    expect(longest(narrow.stdout)).toBeLessThanOrEqual(60);
    expect(narrow.stdout).toContain("…");
    const tty = await run(["health", "vm1"], { tty: true, columns: 70, env: { NO_COLOR: "1" } });
    expect(longest(tty.stdout)).toBeLessThanOrEqual(70);
    const pipe = await run(["health", "vm1"]);
    expect(pipe.stdout).toContain("a long detail end");
    // COLUMNS wins over the terminal's own width.
    expect(longest((await run(["health", "vm1"], { tty: true, columns: 200, env: { COLUMNS: "50", NO_COLOR: "1" } })).stdout)).toBeLessThanOrEqual(50);
  });

  test("-o wide and JSON are never cut", async () => {
    expect((await run(["health", "vm1", "-o", "wide"], { env: { COLUMNS: "40" } })).stdout).toContain("a long detail end");
    const json = await run(["health", "vm1", "--json"], { env: { COLUMNS: "20" } });
    expect(JSON.parse(json.stdout).integrations[0].detail).toEndWith("end");
  });

  test("hostile widths: 0, garbage and negative are ignored; 10 is raised to 20; 10 000 cuts nothing", async () => {
    for (const c of ["0", "-5", "abc", "1e3", "", " "]) expect((await run(["health", "vm1"], { env: { COLUMNS: c } })).stdout).toContain("a long detail end");
    expect(longest((await run(["health", "vm1"], { env: { COLUMNS: "10" } })).stdout)).toBeLessThanOrEqual(20);
    expect((await run(["health", "vm1"], { env: { COLUMNS: "10000" } })).stdout).toContain("a long detail end");
    expect((await run(["health", "vm1"], { tty: true, columns: 0 })).stdout).toContain("a long detail end");
    expect(outputWidth({ stdoutIsTTY: true, env: { COLUMNS: "99999999999" }, columns: 80 })).toBe(80);
  });

  test("cut keeps colour escapes whole and closes an open colour; wide characters count two", () => {
    expect(cut("\x1b[32mhealthy\x1b[0m and more", 5)).toBe("\x1b[32mheal…\x1b[0m");
    expect(cut("日本語のテキスト", 7)).toBe("日本語…");
    expect(visibleLength("日本語")).toBe(6);
    expect(cut("short", 10)).toBe("short");
  });
});

describe("colour", () => {
  test("the precedence: --color/--no-color > NO_COLOR > FORCE_COLOR > TERM=dumb > isatty", () => {
    const cases: [boolean | undefined, Record<string, string>, boolean, boolean][] = [
      [undefined, {}, true, true],
      [undefined, {}, false, false],
      [undefined, { TERM: "dumb" }, true, false],
      [undefined, { FORCE_COLOR: "1", TERM: "dumb" }, false, true],
      [undefined, { FORCE_COLOR: "0" }, true, false],
      [undefined, { FORCE_COLOR: "false" }, true, false],
      [undefined, { FORCE_COLOR: "" }, false, false],
      [undefined, { FORCE_COLOR: "3" }, false, true],
      [undefined, { NO_COLOR: "1", FORCE_COLOR: "1" }, true, false],
      [undefined, { NO_COLOR: "" }, true, true],
      [undefined, { NO_COLOR: "0" }, true, false],
      [true, { NO_COLOR: "1", TERM: "dumb" }, false, true],
      [false, { FORCE_COLOR: "1" }, true, false],
    ];
    for (const [flag, env, tty, want] of cases) expect({ flag, env, tty, color: colorChoice(flag, env, tty) }).toEqual({ flag, env, tty, color: want });
  });

  test("through mvmctl: FORCE_COLOR into a pipe, TERM=dumb on a terminal, flags last", async () => {
    expect((await run(["ls"], { env: { FORCE_COLOR: "1" } })).stdout).toContain("\x1b[32m");
    expect((await run(["ls"], { tty: true, env: { TERM: "dumb" } })).stdout).not.toContain("\x1b");
    expect((await run(["ls", "--color"], { env: { NO_COLOR: "1" } })).stdout).toContain("\x1b[");
    expect((await run(["--no-color", "ls"], { env: { FORCE_COLOR: "1" } })).stdout).not.toContain("\x1b");
  });

  test("a real process: FORCE_COLOR=1 colours a pipe, NO_COLOR=1 beats it", async () => {
    const bin = join(import.meta.dir, "bin.ts");
    const go = async (env: Record<string, string>) => {
      const p = Bun.spawn([process.execPath, bin, "--vms", f.vmsFile, "ls"], { stdout: "pipe", env: { PATH: process.env.PATH!, ...env } });
      const out = await new Response(p.stdout).text();
      expect(await p.exited).toBe(0);
      return out;
    };
    expect(await go({ FORCE_COLOR: "1" })).toContain("\x1b[32myes\x1b[0m");
    expect(await go({ FORCE_COLOR: "1", NO_COLOR: "1" })).not.toContain("\x1b");
    expect(await go({})).not.toContain("\x1b");
  });
});

describe("hostile agent text never reaches the terminal raw", () => {
  test("a lying agent's strings (names, details, versions, states) are escaped in every human output", async () => {
    const evil = "\x1b]0;pwned\x07\x1b[2J\x9b31m";
    const entry = { name: `db${evil}`, status: "error", detail: `boom${evil}\nsecond line`, since: "2026-11-28T10:00:00.000Z", consecutive_failures: 1, last: null };
    const liar = await lyingAgent(join(f.dir, "evil.sock"), (type) => {
      if (type === "health") return { integrations: [entry], ready: false };
      if (type === "health-check") return entry;
      if (type === "probes") return { probes: [{ name: `p${evil}`, ok: false, value: evil, output: evil, unit: evil, detail: evil, exit_code: 1, timed_out: false, duration_ms: 1, checked_at: null, stale: false }] };
      if (type === "hello") return { agent: `agent${evil}`, version: `1${evil}`, protocol: 1, build: "dev", requests: [], plugins: [], max_frame_bytes: 1024 };
      if (type === "status") return { agent: `agent${evil}`, version: `1${evil}`, build: "dev", pid: 1, started_at: evil, uptime_secs: 1, state: "running", connections: 1, work_in_flight: 0, plugins: { [`x${evil}`]: { k: evil } } };
      if (type === "sleep-prep") return { ready: false, state: "sleeping", steps: [{ name: `checkpoint:${evil}`, ok: false, duration_ms: 1, detail: evil }], duration_ms: 1 };
      throw { code: "E_BUSY", message: evil };
    });
    const vms = join(f.dir, "evil.json");
    writeFileSync(vms, JSON.stringify({ vms: [{ name: "evil", agent: liar.address }] }));
    try {
      for (const argv of [["health", "evil"], ["health", "evil", "-o", "wide"], ["probes", "evil", "-o", "wide"], ["status", "evil"], ["version"], ["ls", "-o", "wide"], ["sleep-prep", "evil"], ["ping", "evil"], ["call", "evil", "nope"]]) {
        for (const tty of [false, true]) {
          const r = await mvmctl(["--vms", vms, "--no-color", ...argv], { tty });
          expect({ argv, out: /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(r.stdout.replaceAll("\r\x1b[2K", "")), err: /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(r.stderr) }).toEqual({ argv, out: false, err: false });
        }
      }
    } finally {
      await liar.close();
    }
  });
});
