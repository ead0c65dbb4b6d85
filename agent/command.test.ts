// Tests of the shared command runner with real processes: groups, timeouts, caps, signals, stdin.

import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ManualClock } from "./clock.ts";
import { runCommand } from "./command.ts";
import { failureDetail, outputText, trimUtf8End } from "./capture.ts";
import { tempDir, waitFor } from "./testing.ts";
import { alive } from "../test/support/index.ts";

describe("runCommand", () => {
  test("shell command: exit code, stdout, stderr, duration", async () => {
    const r = await runCommand({ command: "echo out; echo err >&2; exit 3" });
    expect(r.exit_code).toBe(3);
    expect(outputText(r.stdout)).toBe("out");
    expect(outputText(r.stderr)).toBe("err");
    expect(r.signal).toBeNull();
    expect(r.duration_ms).toBeGreaterThanOrEqual(0);
    expect(failureDetail(r)).toBe("exit 3: err");
  });

  test("argv runs without a shell; env and cwd apply", async () => {
    const d = tempDir();
    const r = await runCommand({ argv: ["/bin/sh", "-c", 'echo "$FOO $(pwd)"'], env: { FOO: "bar" }, cwd: d.path });
    expect(outputText(r.stdout)).toBe(`bar ${d.path}`);
    d.cleanup();
  });

  test("a binary that does not exist is a spawn error, not a throw", async () => {
    const r = await runCommand({ argv: ["/no/such/binary"] });
    expect(r.spawn_error).toBeTruthy();
    expect(failureDetail(r)).toStartWith("failed to start:");
  });

  test("timeout kills the whole group, grandchildren included (injected clock)", async () => {
    const d = tempDir();
    const pidFile = join(d.path, "pids");
    const clock = new ManualClock();
    const p = runCommand({
      command: `sleep 300 & echo $! > ${pidFile}; (trap '' TERM; sleep 300) & echo $! >> ${pidFile}; wait`,
      timeoutMs: 5000,
      clock,
    });
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim().split("\n").length === 2);
    const pids = readFileSync(pidFile, "utf8").trim().split("\n").map(Number);
    expect(pids.every(alive)).toBe(true);
    await clock.advance(5000);
    const r = await p;
    expect(r.timed_out).toBe(true);
    expect(failureDetail(r, 5000)).toBe("timed out after 5s");
    await waitFor(() => !pids.some(alive), 5000, "grandchildren to die");
    d.cleanup();
  });

  test("a grandchild left behind after a normal exit is killed with the group", async () => {
    const d = tempDir();
    const pidFile = join(d.path, "pid");
    const r = await runCommand({ command: `sleep 300 & echo $! > ${pidFile}` });
    expect(r.exit_code).toBe(0);
    const pid = Number(readFileSync(pidFile, "utf8"));
    await waitFor(() => !alive(pid), 5000, "grandchild to die");
    d.cleanup();
  });

  test("a daemon detached on the command's last line (setsid ... &) is out of the group before the exit's kill", async () => {
    const d = tempDir();
    const daemonPid = join(d.path, "daemon");
    const siblingPid = join(d.path, "sibling");
    // The sibling stays in the group and lets go of the pipes: its death shows the group kill has run.
    const r = await runCommand({
      command: `sleep 300 </dev/null >/dev/null 2>&1 & echo $! > ${siblingPid}; setsid sh -c 'echo $$ > ${daemonPid}.tmp; mv ${daemonPid}.tmp ${daemonPid}; exec sleep 300' </dev/null >/dev/null 2>&1 &`,
    });
    expect(r.exit_code).toBe(0);
    const sibling = Number(readFileSync(siblingPid, "utf8"));
    await waitFor(() => !alive(sibling), 5000, "the group's kill (the sibling left in the group dies)");
    // Killed with the group before it reached its own session, the daemon never wrote its pid.
    await waitFor(() => existsSync(daemonPid), 5000, "the daemon to write its pid from its own session");
    const pid = Number(readFileSync(daemonPid, "utf8"));
    expect(alive(pid)).toBe(true);
    process.kill(pid, "SIGKILL");
    d.cleanup();
  });

  test("killGroupOnExit: false leaves a daemon running", async () => {
    const d = tempDir();
    const pidFile = join(d.path, "pid");
    const r = await runCommand({ command: `sleep 300 >/dev/null 2>&1 & echo $! > ${pidFile}`, killGroupOnExit: false });
    expect(r.exit_code).toBe(0);
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(alive(pid)).toBe(true);
    process.kill(pid, "SIGKILL");
    d.cleanup();
  });

  test("abort signal kills the group", async () => {
    const ac = new AbortController();
    const p = runCommand({ command: "sleep 300", signal: ac.signal });
    ac.abort();
    const r = await p;
    expect(r.aborted).toBe(true);
    expect(r.signal).toBe("SIGKILL");
  });

  test("killed by a signal reports the signal", async () => {
    const r = await runCommand({ command: "kill -TERM $$" });
    expect(r.signal).toBe("SIGTERM");
    expect(r.exit_code).toBeNull();
    expect(failureDetail(r)).toBe("killed by SIGTERM");
  });

  test("head cap keeps the first bytes, counts all of them", async () => {
    const r = await runCommand({ command: "head -c 1000000 /dev/zero | tr '\\0' a", maxOutputBytes: 1000 });
    expect(r.stdout.length).toBe(1000);
    expect(r.stdout_bytes).toBe(1_000_000);
    expect(r.stdout_truncated).toBe(true);
  });

  test("tail cap keeps the last bytes", async () => {
    const r = await runCommand({ command: "seq 1 100000", maxOutputBytes: 20, keep: "tail" });
    expect(outputText(r.stdout).endsWith("99999\n100000".slice(-12))).toBe(true);
    expect(r.stdout.length).toBeLessThanOrEqual(20);
    expect(r.stdout_truncated).toBe(true);
  });

  test("a cut never splits a UTF-8 character", async () => {
    // "é" is 2 bytes: 3 bytes of "ééé" would cut the second one in half.
    const r = await runCommand({ command: "printf 'ééé'", maxOutputBytes: 3 });
    expect(Buffer.from(r.stdout).toString()).toBe("é");
    expect(trimUtf8End(Buffer.from("a€", "utf8").subarray(0, 3))).toEqual(Buffer.from("a"));
  });

  test("stdin is written then closed", async () => {
    const r = await runCommand({ command: "cat", stdin: "hello" });
    expect(outputText(r.stdout)).toBe("hello");
  });

  test("onOutput sees chunks as they come", async () => {
    const chunks: string[] = [];
    await runCommand({ command: "echo a; echo b >&2", onOutput: (s, c) => void chunks.push(`${s}:${Buffer.from(c).toString().trim()}`) });
    expect(chunks.sort()).toEqual(["stderr:b", "stdout:a"]);
  });
});
