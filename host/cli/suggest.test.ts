// "Did you mean" on every path a word is typed (commands, `help CMD`, flags before and after the command, -o formats,
// wait conditions, shells, VM names, request names), and hostile words and values: exit 2, escaped, never raw.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fakePlugins, fakeState, fleet, mvmctl } from "../testing.ts";

let f: Awaited<ReturnType<typeof fleet>>;
beforeAll(async () => {
  f = await fleet([{ name: "vm1", plugins: fakePlugins(fakeState()) }]);
});
afterAll(async () => {
  await f.close();
});

const run = (...argv: string[]) => mvmctl(["--vms", f.vmsFile, ...argv]);

describe("did you mean", () => {
  test.each([
    [["helth"], 'unknown command "helth" (did you mean health?)'],
    [["help", "helth"], 'unknown command "helth" (did you mean health?)'],
    [["-h", "sleepprep"], 'unknown command "sleepprep" (did you mean sleep-prep?)'],
    [["--jsno", "ls"], "ls: unknown flag --jsno (did you mean --json?)"],
    [["ls", "--jsno"], "ls: unknown flag --jsno (did you mean --json?)"],
    [["--versoin"], "unknown flag --versoin (did you mean --version?)"],
    [["--vsm", "x", "ls"], "unknown flag --vsm (did you mean --vms?)"],
    [["ls", "--no-header"], "unknown flag --no-header (did you mean --no-headers?)"],
    [["ls", "-o", "jsno"], 'unknown output format "jsno" (did you mean json?)'],
    [["health", "vm1", "--wach"], "unknown flag --wach (did you mean --watch?)"],
    [["logs", "vm1", "--sinse", "1m"], "unknown flag --sinse (did you mean --since?)"],
    [["wait", "vm1", "--for", "helthy"], 'unknown condition "helthy" (did you mean healthy?)'],
    [["completion", "fihs"], 'unknown shell "fihs" (did you mean fish?)'],
    [["health", "vm2"], "vm1"],
  ])("%j: %s", async (argv, message) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(message);
  });

  test("an unknown request gets the nearest the agent serves (its hello list); exit 4 as any agent error", async () => {
    const r = await run("call", "vm1", "helth-check", '{"name": "web"}');
    expect(r.code).toBe(4);
    expect(r.stderr).toBe('mvmctl: vm1: no plugin serves "helth-check" (did you mean health-check?) [E_UNKNOWN_REQUEST]\n');
  });
});

describe("hostile words and values", () => {
  test.each([
    [["\x1b[2Jhelth"]],
    [["ls", "--\x1b]0;pwned\x07"]],
    [["health", "\x1b[31mvm1\x07"]],
    [["ls", "-o", "\x9b2J"]],
    [["--timeout", "1e99", "ls"]],
    [["--timeout", "-1", "ls"]],
    [["--timeout", "NaN", "ls"]],
    [["--timeout", "Infinity", "ls"]],
    [["ls", "--interval", "\x00"]],
    [["x".repeat(100_000)]],
  ])("%j: exit 2, one escaped line, nothing on stdout", async (argv) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^mvmctl: /);
    expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });
});
