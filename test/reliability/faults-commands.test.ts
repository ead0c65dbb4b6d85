// Fault injection, commands: health checks, probes and exec that hang, fork grandchildren, ignore SIGTERM, flood, die by signal, or do not exist.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { ERROR_CODES } from "../../agent/errors.ts";
import { RawClient, waitFor } from "../../agent/testing.ts";
import { call, fds, liveWithMarker, request, spawnAgent, waitConnections, zombies, type SpawnedAgent as AgentProcess } from "../support/index.ts";

// Every process a fault starts is a `sleep` with a duration no other process on the machine uses:
// its command line is the marker that finds survivors, wherever they were reparented.
const MARK = `${process.pid % 10_000}${Date.now() % 100_000}`;
const slp = (n: number) => `sleep ${1000 + n}.${MARK}`;

/** The faults, as shell commands (health_cmd, probe command, exec command). */
const FAULTS = {
  hang: slp(1),
  grandchild: `${slp(2)} & (${slp(3)} &) ; ${slp(4)}`,
  noterm: `trap '' TERM; ${slp(5)} & ${slp(6)}`,
  flood: "head -c 100000000 /dev/zero | tr '\\0' x",
  signal: "kill -SEGV $$",
  missing: "/nonexistent/mvm-rel-no-such-command",
} as const;
type Fault = keyof typeof FAULTS;
const NAMES = Object.keys(FAULTS) as Fault[];

const files: Record<string, unknown> = {};
for (const n of NAMES) {
  files[`integrations.d/${n}.json`] = { name: n, health_cmd: FAULTS[n], health_timeout_secs: 1, health_interval_secs: 3600 };
  files[`probes.d/${n}.json`] = { name: `p-${n}`, command: FAULTS[n], timeout_secs: 1, interval_secs: 3600 };
}

let a: AgentProcess;
let c: RawClient;

beforeAll(async () => {
  a = await spawnAgent({ files, args: ["--log-level", "warn"] });
  c = await RawClient.connect(a.socket);
});

afterAll(async () => {
  c?.close();
  await a?.stop();
  // Whatever happened, leave nothing of ours running on the shared machine.
  for (const pid of liveWithMarker(MARK)) process.kill(pid, "SIGKILL");
});

/** After any fault: nothing of a command survives, no zombie, and the agent still answers correctly. */
async function agentIsClean(): Promise<void> {
  await waitFor(() => liveWithMarker(MARK).length === 0, 10_000, `no process with marker ${MARK} (left: ${liveWithMarker(MARK).join(",")})`);
  await waitFor(() => zombies(a.pid).length === 0, 10_000, "no zombie child of the agent");
  expect((await request(c, { type: "ping" })).ok).toBe(true);
  const s = await request(c, { type: "status" });
  expect(s.ok).toBe(true);
  expect(s.result.state).toBe("running");
  expect(a.exitCode()).toBeNull();
}

test("the survivor detector sees a running command (so the checks below can fail)", async () => {
  const pending = call(a.socket, { type: "exec", params: { argv: ["sleep", `${1000 + 20}.${MARK}`], timeout_secs: 2 } });
  await waitFor(() => liveWithMarker(MARK).length === 1, 10_000, "the sleep to be seen");
  expect((await pending).result.timed_out).toBe(true);
  await agentIsClean();
}, 60_000);

test("health checks that hang, fork, ignore SIGTERM, flood, die by signal or do not exist: each judged, nothing survives its timeout", async () => {
  for (let round = 0; round < 2; round++) {
    const answers = await Promise.all(NAMES.map((name) => call(a.socket, { type: "health-check", params: { name } })));
    const by = Object.fromEntries(NAMES.map((n, i) => [n, answers[i]]));
    for (const n of NAMES) {
      expect(by[n].ok).toBe(true);
      // The flood exits 0 after its 100 MB: healthy. Every other fault fails the check.
      expect(by[n].result.last.ok).toBe(n === "flood");
    }
    for (const n of ["hang", "grandchild", "noterm"] as const) expect(by[n].result.last.timed_out).toBe(true);
    expect(by.signal.result.last.signal).toBe("SIGSEGV");
    expect(by.missing.result.last.exit_code).toBe(127);
    // 100 MB of output: the check is judged on its exit, with a bounded excerpt.
    expect(by.flood.result.last.output.length).toBeLessThan(64 * 1024);
    await agentIsClean();
  }
  const h = await request(c, { type: "health" });
  expect(h.result.integrations.map((i: { name: string }) => i.name).sort()).toEqual([...NAMES].sort());
}, 120_000);

test("probes with the same faults: each answered, nothing survives its timeout", async () => {
  for (let round = 0; round < 2; round++) {
    const answers = await Promise.all(NAMES.map((n) => call(a.socket, { type: "probe-run", params: { name: `p-${n}` } })));
    const by = Object.fromEntries(NAMES.map((n, i) => [n, answers[i]]));
    for (const n of NAMES) expect(by[n].ok).toBe(true);
    for (const n of ["hang", "grandchild", "noterm"] as const) expect(by[n].result.timed_out).toBe(true);
    for (const n of ["signal", "missing"] as const) expect(by[n].result.ok).toBe(false);
    expect(by.missing.result.exit_code).toBe(127);
    expect((by.flood.result.output ?? "").length).toBeLessThanOrEqual(4096);
    await agentIsClean();
  }
}, 120_000);

test("exec with the same faults: each answered, output capped, nothing survives its timeout", async () => {
  const execs: Record<Fault, Record<string, unknown>> = {
    hang: { argv: ["sleep", `${1000 + 11}.${MARK}`], timeout_secs: 1 },
    grandchild: { command: FAULTS.grandchild, timeout_secs: 1 },
    noterm: { command: FAULTS.noterm, timeout_secs: 1 },
    flood: { command: FAULTS.flood, timeout_secs: 60 },
    signal: { command: FAULTS.signal },
    missing: { argv: ["/nonexistent/mvm-rel-no-such-command"] },
  };
  for (let round = 0; round < 2; round++) {
    const answers = await Promise.all(NAMES.map((n) => call(a.socket, { type: "exec", params: execs[n] })));
    const by = Object.fromEntries(NAMES.map((n, i) => [n, answers[i]]));
    for (const n of ["hang", "grandchild", "noterm"] as const) {
      expect(by[n].ok).toBe(true);
      expect(by[n].result.timed_out).toBe(true);
    }
    expect(by.flood.result.stdout_truncated).toBe(true);
    expect(by.flood.result.stdout_bytes).toBe(100_000_000);
    expect(by.flood.result.stdout.length).toBeLessThanOrEqual(1024 * 1024);
    expect(by.signal.result.signal).toBe("SIGSEGV");
    expect(by.signal.result.exit_code).toBeNull();
    // A program that does not exist: a clear answer (exit 127 or an error from the catalog), never a crash.
    const m = by.missing;
    if (m.ok) expect(m.result.exit_code).toBe(127);
    else expect(Object.keys(ERROR_CODES)).toContain(m.error.code);
    await agentIsClean();
  }
  const s = await request(c, { type: "status" });
  expect(s.result.plugins.exec.running).toBe(0);
}, 120_000);

test("exec with a big stdin to a command that exits without reading it: no unhandled EPIPE in the agent", async () => {
  // Regression: the runner wrote stdin without waiting for the write, so a command that exited first left a
  // rejected write promise nobody handled; Bun printed an EPIPE stack on the agent's console for each.
  const stdin = "x".repeat(512 * 1024); // well over a pipe buffer, within the frame cap
  const answers = await Promise.all(Array.from({ length: 20 }, () => call(a.socket, { type: "exec", params: { argv: ["true"], stdin } })));
  for (const r of answers) expect(r.result.exit_code).toBe(0);
  await agentIsClean();
  expect(a.console()).not.toContain("EPIPE");
}, 60_000);

test("after every fault round: no fd growth in the agent", async () => {
  c.close();
  c = await RawClient.connect(a.socket);
  await waitConnections(c, 1);
  const before = fds(a.pid).length;
  await Promise.all(NAMES.map((name) => call(a.socket, { type: "health-check", params: { name } })));
  await Promise.all(NAMES.map((n) => call(a.socket, { type: "probe-run", params: { name: `p-${n}` } })));
  await agentIsClean();
  await waitConnections(c, 1);
  expect(fds(a.pid).length).toBeLessThanOrEqual(before);
}, 120_000);
