// The runner's deadlines against processes that escape their group, with each tracking mechanism in-process:
// a cgroup v2 per command (where this machine allows one) and the /proc environment marker (forced).

import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { DEADLINE_GRACE_MS, runCommand } from "./command.ts";
import { tempDir, waitFor } from "./testing.ts";
import { commandTracking, MARKER_VAR, MAX_ENVIRON_SCAN_BYTES, pidsWithMarker, type TrackingMode } from "./track.ts";

const TAG = `${process.pid % 10_000}${Date.now() % 100_000}`;
const SLEEP = `sleep 300.${TAG}`;
const BOUND_MS = 60_000; // well under the 300 s the escaped child would live

/** Live (not zombie) processes running our tagged sleep. */
function survivors(): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (!readFileSync(`/proc/${e}/cmdline`, "utf8").includes(`300.${TAG}`)) continue;
      const st = readFileSync(`/proc/${e}/stat`, "utf8");
      if (st[st.lastIndexOf(")") + 2] !== "Z") out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

const modes: TrackingMode[] = commandTracking().mode === "cgroup" ? ["cgroup", "proc"] : ["proc"];

describe.each(modes)("tracking %s", (mode) => {
  test("setsid escape: timed out at the deadline, the escaped child killed", async () => {
    const r = await runCommand({ command: `setsid ${SLEEP} & wait`, timeoutMs: 300, tracking: mode });
    expect(r.timed_out).toBe(true);
    expect(r.duration_ms).toBeLessThan(BOUND_MS);
    expect(survivors()).toEqual([]);
  });

  test("a command that exited while an escaped child holds stdout is not done before the deadline", async () => {
    const r = await runCommand({ command: `(setsid ${SLEEP} &); echo out`, timeoutMs: 500, tracking: mode });
    // The child may not have left the group before the exit's group kill: then it is gone at once.
    if (r.timed_out) expect(r.duration_ms).toBeGreaterThanOrEqual(400);
    expect(new TextDecoder().decode(r.stdout)).toBe("out\n");
    expect(survivors()).toEqual([]);
  });

  test("every command carries the marker, and the /proc scan finds that command's processes by it", async () => {
    const stop = new AbortController();
    const run = runCommand({ argv: ["sleep", `300.${TAG}`], timeoutMs: 30_000, signal: stop.signal, tracking: mode });
    try {
      const sleeping = () => survivors().filter((p) => readFileSync(`/proc/${p}/cmdline`, "utf8").startsWith("sleep\0"));
      await waitFor(() => sleeping().length === 1, 10_000, "the command running");
      const pid = sleeping()[0]!;
      const env = readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
      const marker = env.find((v) => v.startsWith(`${MARKER_VAR}=`))!.slice(MARKER_VAR.length + 1);
      expect(marker).toMatch(new RegExp(`^${process.pid}\\.\\d+$`));
      // Spawned as given (no cgroup shell in between): the marker is the first variable, within any scan's read.
      if (mode === "proc") expect(env[0]).toStartWith(`${MARKER_VAR}=`);
      expect(pidsWithMarker(MARKER_VAR, new Set([marker])).map(([p]) => p)).toContain(pid);
    } finally {
      stop.abort();
    }
    expect((await run).aborted).toBe(true);
    expect(survivors()).toEqual([]);
  });
});

test("the marker cleared with env -i: the runner still answers at the deadline (plus its grace), never waiting on the pipes", async () => {
  const r = await runCommand({ command: `env -i setsid /bin/${SLEEP} & wait`, timeoutMs: 300, tracking: "proc" });
  expect(r.timed_out).toBe(true);
  expect(r.duration_ms).toBeLessThan(300 + DEADLINE_GRACE_MS + BOUND_MS);
  const left = survivors(); // the marker's documented limit
  expect(left).toHaveLength(1);
  for (const pid of left) process.kill(pid, "SIGKILL");
});

test.skipIf(commandTracking().mode !== "cgroup")("cgroup: env -i does not leave the command's cgroup", async () => {
  const r = await runCommand({ command: `env -i setsid /bin/${SLEEP} & wait`, timeoutMs: 300, tracking: "cgroup" });
  expect(r.timed_out).toBe(true);
  expect(survivors()).toEqual([]);
});

describe("the /proc scan against hostile environments", () => {
  /** Bytes this process has read with read(2) and friends (/proc/self/io rchar). */
  const rchar = () => Number(/rchar: (\d+)/.exec(readFileSync("/proc/self/io", "utf8"))![1]);
  const VAR = 120 * 1024; // under the kernel's 128 KiB cap on one environment string

  test("a guest user's processes with 1.7 MB environments cost the scan a bounded read each; marked ones are still found", async () => {
    // A proc dir holding only the processes under test (links to their real /proc entries), so the
    // bytes counted are theirs alone.
    const d = tempDir("mvm-proc-");
    const hostile = Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`PAD${i}`, String(i % 10).repeat(VAR)]));
    const procs: ReturnType<typeof Bun.spawn>[] = [];
    try {
      for (let i = 0; i < 20; i++) procs.push(Bun.spawn(["sleep", `300.${TAG}`], { env: hostile, stdout: "ignore", stderr: "ignore" }));
      // A command's descendant with a huge environment: the runner puts the marker first, so it is found.
      procs.push(Bun.spawn(["sleep", `300.${TAG}`], { env: { [MARKER_VAR]: "1.first", ...hostile }, stdout: "ignore", stderr: "ignore" }));
      // A shell reorders what it passes on: a marker behind a few ordinary variables is found too.
      procs.push(Bun.spawn(["sleep", `300.${TAG}`], { env: { HOME: "/root", PATH: "/usr/bin:/bin", [MARKER_VAR]: "1.shell", LANG: "C.UTF-8" }, stdout: "ignore", stderr: "ignore" }));
      for (const p of procs) symlinkSync(`/proc/${p.pid}`, join(d.path, String(p.pid)));
      await waitFor(() => procs.every((p) => readFileSync(`/proc/${p.pid}/cmdline`, "utf8").startsWith("sleep")), 10_000, "every process exec'ed");
      const whole = procs.slice(0, 20).reduce((n, p) => n + readFileSync(`/proc/${p.pid}/environ`).length, 0);
      expect(whole).toBeGreaterThan(20 * 1_700_000);
      const before = rchar();
      const found = pidsWithMarker(MARKER_VAR, new Set(["1.first", "1.shell"]), d.path);
      const read = rchar() - before;
      expect(found.sort((a, b) => a[0] - b[0])).toEqual([[procs[20]!.pid, "1.first"], [procs[21]!.pid, "1.shell"]].sort((a, b) => (a[0] as number) - (b[0] as number)) as [number, string][]);
      // Each process is read to MAX_ENVIRON_SCAN_BYTES at most: 22 x 64 KiB, against 34 MB read whole.
      expect(read).toBeLessThanOrEqual(22 * MAX_ENVIRON_SCAN_BYTES);
    } finally {
      for (const p of procs) p.kill("SIGKILL");
      d.cleanup();
    }
  });
});
