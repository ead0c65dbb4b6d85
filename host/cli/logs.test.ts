// mvmctl logs: the last lines of a console log, and -f following it across truncation and rotation.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, waitFor } from "../../agent/testing.ts";
import { runCli } from "./run.ts";
import { memoryIO, mvmctl, NOW } from "../testing.ts";

let d: ReturnType<typeof tempDir>;
let vmsFile: string;
let log: string;
let later: string;

beforeAll(() => {
  d = tempDir("mvmctl-logs-");
  log = join(d.path, "console.log");
  later = join(d.path, "later.log");
  vmsFile = join(d.path, "vms.json");
  writeFileSync(log, Array.from({ length: 50 }, (_, i) => `line ${i + 1}`).join("\n") + "\n");
  writeFileSync(
    vmsFile,
    JSON.stringify({
      vms: [
        { name: "vm1", agent: "unix:/nonexistent/a.sock", console_log: log },
        { name: "nolog", agent: "unix:/nonexistent/b.sock" },
        { name: "later", agent: "unix:/nonexistent/c.sock", console_log: "later.log" },
      ],
    }),
  );
});
afterAll(() => d.cleanup());

describe("logs", () => {
  test("-n N prints the last N lines (default 20); no agent needed", async () => {
    const r = await mvmctl(["--vms", vmsFile, "logs", "vm1", "-n", "3"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("line 48\nline 49\nline 50\n");
    const def = await mvmctl(["--vms", vmsFile, "logs", "vm1"]);
    expect(def.stdout.split("\n")[0]).toBe("line 31");
    expect((await mvmctl(["--vms", vmsFile, "logs", "--lines=0", "vm1"])).stdout).toBe("");
  });

  test("a VM without console_log is exit 2; a missing file is exit 1", async () => {
    const no = await mvmctl(["--vms", vmsFile, "logs", "nolog"]);
    expect(no.code).toBe(2);
    expect(no.stderr).toContain('nolog: no console_log in');
    const missing = await mvmctl(["--vms", vmsFile, "logs", "later"]);
    expect(missing.code).toBe(1);
    // A relative console_log is resolved against the directory of vms.json.
    expect(missing.stderr).toBe(`mvmctl: later: console log ${later} does not exist (yet?)\n`);
    expect((await mvmctl(["--vms", vmsFile, "logs", "vm1", "-n", "-1"])).code).toBe(2);
  });

  test("-f follows appends, truncation and rotation, and stops cleanly on the signal", async () => {
    const m = memoryIO();
    const done = runCli(["--vms", vmsFile, "logs", "vm1", "-f", "-n", "1", "--poll-ms", "10"], m.io);
    await waitFor(() => m.stdout === "line 50\n", 5000, "the last line");
    appendFileSync(log, "appended 1\nappended 2\n");
    await waitFor(() => m.stdout.endsWith("appended 1\nappended 2\n"), 5000, "appended lines");
    // A partial line is held until its newline comes.
    appendFileSync(log, "half");
    appendFileSync(log, " and whole\n");
    await waitFor(() => m.stdout.endsWith("half and whole\n"), 5000, "the joined line");
    writeFileSync(log, "after truncate\n");
    await waitFor(() => m.stdout.endsWith("after truncate\n"), 5000, "the line after truncation");
    expect(m.stderr).toContain("was truncated; reading it from the start");
    renameSync(log, `${log}.1`);
    writeFileSync(log, "new file 1\n");
    await waitFor(() => m.stdout.endsWith("new file 1\n"), 5000, "the rotated file's line");
    expect(m.stderr).toContain("was replaced");
    m.stop.abort();
    expect(await done).toBe(0);
    expect(m.stdout).toBe("line 50\nappended 1\nappended 2\nhalf and whole\nafter truncate\nnew file 1\n");
  });

  test("-f waits for a log that does not exist yet", async () => {
    const m = memoryIO();
    const done = runCli(["--vms", vmsFile, "logs", "later", "-f", "--poll-ms", "10"], m.io);
    await waitFor(() => m.stderr.includes("waiting for it"), 5000, "the waiting note");
    writeFileSync(later, "booted\n");
    await waitFor(() => m.stdout === "booted\n", 5000, "the first line");
    m.stop.abort();
    expect(await done).toBe(0);
  });
});

describe("logs --since and --timestamps", () => {
  // NOW (the in-memory clock) is 2026-11-28T10:01:00Z.
  const timed = [
    "early line without a time",
    "2026-11-28T09:40:00.000Z INFO  core a",
    "  a's second line",
    "2026-11-28T09:55:00.000Z INFO  core b",
    "[2026-11-28 09:58:00+00:00] c",
    '{"time":"2026-11-28T09:59:30.000Z","level":"info","msg":"d"}',
    "[    1.234567] kernel line after d",
  ];
  let timedVms: string;
  beforeAll(() => {
    const at = (name: string, lines: string[]) => {
      writeFileSync(join(d.path, name), lines.join("\n") + "\n");
      return join(d.path, name);
    };
    timedVms = join(d.path, "timed.json");
    writeFileSync(
      timedVms,
      JSON.stringify({
        vms: [
          { name: "t", agent: "unix:/nonexistent/t.sock", console_log: at("timed.log", timed) },
          { name: "plain", agent: "unix:/nonexistent/p.sock", console_log: at("plain.log", ["no", "times", "here"]) },
          { name: "term", agent: "unix:/nonexistent/q.sock", console_log: at("term.log", ["\x1b[31mred\x1b[0m \x1b]0;pwned\x07 \x1b[2J tab\there"]) },
        ],
      }),
    );
  });
  const logs = (...argv: string[]) => mvmctl(["--vms", timedVms, "logs", ...argv]);

  test("--since 10m: the lines whose time (own, or their message's) is from then on; -n keeps the last of them", async () => {
    const r = await logs("t", "--since", "10m");
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toBe(timed.slice(3).join("\n") + "\n");
    expect((await logs("t", "--since", "2026-11-28T09:58:00Z", "-n", "1")).stdout).toBe("[    1.234567] kernel line after d\n");
    expect((await logs("t", "--since", "1h")).stdout).toBe(timed.slice(1).join("\n") + "\n");
    expect((await logs("t", "--since", "30s")).stdout).toBe("");
  });

  test("--timestamps: each line's time first; a line before any time gets a dash of the same width", async () => {
    const r = await logs("t", "--timestamps", "-n", "4");
    expect(r.stdout.split("\n").slice(0, 4)).toEqual([
      "2026-11-28T09:55:00.000Z 2026-11-28T09:55:00.000Z INFO  core b",
      "2026-11-28T09:58:00.000Z [2026-11-28 09:58:00+00:00] c",
      `2026-11-28T09:59:30.000Z ${timed[5]}`,
      "2026-11-28T09:59:30.000Z [    1.234567] kernel line after d",
    ]);
    expect((await logs("t", "-t", "-n", "7")).stdout.split("\n")[0]).toBe(`${"-".padEnd(24)} early line without a time`);
    expect((await logs("t", "-t", "-n", "5")).stdout.split("\n")[0]).toBe("2026-11-28T09:40:00.000Z   a's second line");
  });

  test("a log whose lines carry no time: --since prints nothing and says why on stderr", async () => {
    const r = await logs("plain", "--since", "1h");
    expect(r).toMatchObject({ code: 0, stdout: "" });
    expect(r.stderr).toContain("carries a time");
  });

  test("-f --timestamps: a followed line without a time of its own gets the time it was read", async () => {
    const m = memoryIO();
    const done = runCli(["--vms", timedVms, "logs", "plain", "-f", "-t", "-n", "0", "--poll-ms", "10"], m.io);
    await waitFor(() => m.stdout === "" && m.stderr === "", 1000, "the start");
    appendFileSync(join(d.path, "plain.log"), "appended\n2026-11-28T10:00:30.000Z own time\n");
    await waitFor(() => m.stdout.split("\n").length === 3, 5000, "two followed lines");
    m.stop.abort();
    expect(await done).toBe(0);
    expect(m.stdout).toBe(`${new Date(NOW).toISOString()} appended\n2026-11-28T10:00:30.000Z 2026-11-28T10:00:30.000Z own time\n`);
  });

  test("on a terminal, control characters are escaped and colours kept only with colour; into a pipe, lines are as written", async () => {
    const colour = await mvmctl(["--vms", timedVms, "logs", "term"], { tty: true, env: { TERM: "xterm" } });
    expect(colour.stdout).toBe("\x1b[31mred\x1b[0m \\x1b]0;pwned\\x07 \\x1b[2J tab\there\n");
    const plain = await mvmctl(["--vms", timedVms, "logs", "term", "--no-color"], { tty: true });
    expect(plain.stdout).toBe("red \\x1b]0;pwned\\x07 \\x1b[2J tab\there\n");
    const pipe = await mvmctl(["--vms", timedVms, "logs", "term"]);
    expect(pipe.stdout).toBe("\x1b[31mred\x1b[0m \x1b]0;pwned\x07 \x1b[2J tab\there\n");
  });

  test.each([
    ["10", "a duration needs a unit: 10s, 10m or 10h"],
    ["-5m", "expected a duration"],
    ["5y", "expected a duration"],
    ["99999999d", "more than ten years back"],
    ["2099-01-01T00:00:00Z", "is in the future"],
    ["2026-02-31T00:00:00Z", "expected a duration"],
    ["2026-11-28T10:00:00", "expected a duration"],
    ["", "expected a duration"],
    ["\x1b[2J10m", "\\u001b[2J10m"],
    ["1".repeat(500), "expected a duration"],
  ])("--since %j is exit 2: %s", async (since, message) => {
    const r = await logs("t", "--since", since);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain("\x1b");
    expect(r.stderr.length).toBeLessThan(400);
  });

  test("absurd -n and --poll-ms are exit 2", async () => {
    for (const argv of [["-n", "1.5"], ["-n", "-1"], ["--poll-ms", "0"], ["--poll-ms", "1e12"]]) expect((await logs("t", ...argv)).code).toBe(2);
  });
});
