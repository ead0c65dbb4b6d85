// mvmctl logs: the last lines of a console log, and -f following it across truncation and rotation.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, waitFor } from "../../agent/testing.ts";
import { runCli } from "./run.ts";
import { memoryIO, mvmctl } from "../testing.ts";

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
