// mvmctl end to end in memory: every command's human and --json output against real agents with fake plugins.
// Over 300 lines: one fleet of agents (fake plugins, the real exec, a custom plugin) serves every command's tests.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Type } from "@sinclair/typebox";
import { defineRequest, type AgentPlugin } from "../../agent/plugin.ts";
import { execPlugin } from "../../plugins/exec/index.ts";
import { waitFor } from "../../agent/testing.ts";
import { runCli } from "./run.ts";
import { fakePlugins, fakeState, type FakeState, fleet, memoryIO, mvmctl, NOW } from "../testing.ts";

const Any = Type.Object({}, { additionalProperties: true });

/** A custom plugin: one request that never answers (timeouts), one namespaced custom request. */
function customPlugin(): AgentPlugin {
  return {
    name: "acme",
    requests: {
      "acme.hang": defineRequest({ params: Any, result: Any, handle: (_p, ctx) => new Promise((r) => ctx.signal.addEventListener("abort", () => r({}))) }),
      "acme.flush": defineRequest({
        params: Type.Object({ bucket: Type.String() }, { additionalProperties: false }),
        result: Type.Object({ flushed: Type.String() }, { additionalProperties: false }),
        handle: ({ bucket }, ctx) => {
          ctx.emit("progress", { pct: 50 });
          return { flushed: bucket };
        },
      }),
    },
  };
}

let f: Awaited<ReturnType<typeof fleet>>;
let state: FakeState;
let sick: FakeState;

beforeAll(async () => {
  state = fakeState();
  sick = fakeState({
    worker: "busy",
    integrations: [
      { name: "web", status: "error", detail: "exit 7: connection refused", since: "2026-11-28T09:59:30.000Z", consecutive_failures: 3, last: { ok: false, exit_code: 7, signal: null, timed_out: false, duration_ms: 40, output: "connection refused", checked_at: "2026-11-28T10:00:50.000Z" } },
    ],
    sleepReady: false,
    restoreFails: true,
  });
  f = await fleet(
    [
      { name: "vm1", plugins: [...fakePlugins(state, { except: ["exec", "acme"] }), execPlugin(), customPlugin()] },
      { name: "vm2", plugins: fakePlugins(sick) },
      { name: "bare" },
    ],
    [{ name: "gone", agent: "firecracker:/nonexistent/mvm/gone/v.sock:52" }],
  );
});
afterAll(async () => {
  await f.close();
});

const run = (...argv: string[]) => mvmctl(["--vms", f.vmsFile, ...argv]);

describe("ls", () => {
  test("table: reachable VMs with state, worker and health; unreachable ones stay listed", async () => {
    const r = await run("ls");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+REACHABLE\s+STATE\s+WORKER\s+UPTIME\s+HEALTH$/);
    expect(lines[1]).toMatch(/^vm1\s+yes\s+running\s+idle\s+\S.*\s+ready \(1 healthy, 1 unchecked\)$/);
    expect(lines[2]).toMatch(/^vm2\s+yes\s+running\s+busy\s+.*not ready \(1 error\)$/);
    expect(lines[3]).toMatch(/^bare\s+yes\s+running\s+-\s+.*\s+-$/);
    expect(lines[4]).toMatch(/^gone\s+no\s+-\s+-\s+-\s+E_SOCKET_MISSING: .*no socket at \/nonexistent\/mvm\/gone\/v.sock/);
    expect(lines[5]).toBe("4 VMs: 3 reachable, 1 unreachable");
    expect(r.stdout).not.toContain("\x1b[");
  });

  test("--json rows", async () => {
    const rows = JSON.parse((await run("ls", "--json")).stdout).vms;
    expect(rows[0]).toMatchObject({ name: "vm1", reachable: true, error: null, state: "running", worker: "idle", labels: { role: "test" }, health: { ready: true, integrations: 2, counts: { healthy: 1, unchecked: 1, error: 0 } } });
    expect(rows[2]).toMatchObject({ name: "bare", reachable: true, worker: null, health: null });
    expect(rows[3]).toMatchObject({ name: "gone", reachable: false, state: null, error: { code: "E_SOCKET_MISSING" } });
  });

  test("colour only on a TTY, and never with NO_COLOR or --no-color", async () => {
    expect((await mvmctl(["--vms", f.vmsFile, "ls"], { tty: true })).stdout).toContain("\x1b[32mready\x1b[0m");
    expect((await mvmctl(["--vms", f.vmsFile, "ls"], { tty: true, env: { NO_COLOR: "1" } })).stdout).not.toContain("\x1b[");
    expect((await mvmctl(["--vms", f.vmsFile, "ls", "--no-color"], { tty: true })).stdout).not.toContain("\x1b[");
    expect((await mvmctl(["--vms", f.vmsFile, "--color", "ls"])).stdout).toContain("\x1b[");
  });
});

describe("status and ping", () => {
  test("status: human and --json", async () => {
    const h = await run("status", "vm1");
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^vm1\n  agent +mvm-guest-agent 0\.0\.0 \(dev build\), pid \d+\n/);
    expect(h.stdout).toContain("  state          running\n");
    expect(h.stdout).toMatch(/\n    health +integrations=2 healthy=1 .* ready=true[ \n]/);
    const j = JSON.parse((await run("status", "vm1", "--json")).stdout);
    expect(j.state).toBe("running");
    expect(j.plugins.worker).toMatchObject({ status: "idle", work_in_flight: 0 });
  });

  test("ping: human and --json; an unreachable VM is exit 3", async () => {
    const h = await run("ping", "vm1");
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^pong from vm1: [\d.]+ ms \(first call with connect [\d.]+ ms\)\n$/);
    const j = JSON.parse((await run("ping", "vm1", "--json")).stdout);
    expect(j.vm).toBe("vm1");
    expect(typeof j.rtt_ms).toBe("number");
    const down = await run("ping", "gone");
    expect(down.code).toBe(3);
    expect(down.stderr).toBe("mvmctl: gone: firecracker:/nonexistent/mvm/gone/v.sock:52: no socket at /nonexistent/mvm/gone/v.sock (is the VM running? is the path right?) [E_SOCKET_MISSING]\n");
  });

  test("a call past --timeout is exit 5", async () => {
    const r = await mvmctl(["--vms", f.vmsFile, "--timeout", "0.05", "call", "vm1", "acme.hang"]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("[E_CLIENT_TIMEOUT]");
  });
});

describe("health and probes", () => {
  test("health: table, ready line, exit 0", async () => {
    const r = await run("health", "vm1");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+STATUS\s+SINCE\s+LAST CHECK\s+DETAIL$/);
    expect(lines[1]).toMatch(/^web\s+healthy\s+1m 00s ago\s+ok 12 ms, 1m 00s ago\s+exit 0$/);
    expect(lines[2]).toMatch(/^db\s+unchecked\s+1m 00s ago\s+-\s+no health_cmd$/);
    expect(lines[3]).toBe("vm1: ready");
  });

  test("health: not ready is exit 1; --json is the agent's answer", async () => {
    const r = await run("health", "vm2");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("vm2: not ready");
    expect(r.stdout).toMatch(/web\s+error\s+1m 30s ago\s+failed 40 ms, 10\.0 s ago\s+exit 7: connection refused/);
    const j = await run("health", "vm2", "--json");
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toEqual({ integrations: sick.integrations, ready: false, skipped_files: [] });
  });

  test("health: each skipped integrations.d file is a line, escaped, and makes it not ready", async () => {
    state.skippedFiles = [{ file: "/etc/mvm/integrations.d/evil\n\u001b[31mERROR.json", message: "field helth_cmd: unknown key (did you mean health_cmd?)" }];
    try {
      const r = await run("health", "vm1");
      expect(r.code).toBe(1);
      const tail = r.stdout.trimEnd().split("\n").slice(-2);
      expect(tail).toEqual(["skipped /etc/mvm/integrations.d/evil\\n\\e[31mERROR.json: field helth_cmd: unknown key (did you mean health_cmd?)", "vm1: not ready"]);
      expect(JSON.parse((await run("health", "vm1", "--json")).stdout).skipped_files).toEqual(state.skippedFiles);
    } finally {
      state.skippedFiles = [];
    }
  });

  test("health --check: one entry; an unknown name is the agent's E_NOT_FOUND, exit 4", async () => {
    const r = await run("health", "vm1", "--check", "web");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\nweb\s+healthy/);
    const nf = await run("health", "vm1", "--check", "nope");
    expect(nf.code).toBe(4);
    expect(nf.stderr).toBe('mvmctl: vm1: no integration named "nope" [E_NOT_FOUND]\n');
  });

  test("probes: table with units and pending ones; --json; --run", async () => {
    const r = await run("probes", "vm1");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+VALUE\s+OK\s+CHECKED\s+DETAIL$/);
    expect(lines[1]).toMatch(/^disk-usage\s+42 percent\s+ok\s+1m 00s ago$/);
    expect(lines[2]).toMatch(/^queue\s+-\s+pending\s+-$/);
    expect(JSON.parse((await run("probes", "vm1", "--json")).stdout)).toEqual({ probes: state.probes, skipped_files: [] });
    const one = await run("probes", "vm1", "--run", "disk-usage", "--json");
    expect(JSON.parse(one.stdout).value).toBe(42);
    expect((await run("probes", "bare")).code).toBe(4);
  });
});

describe("diff", () => {
  test("human lines and summary across pages", async () => {
    state.diffCalls.length = 0;
    const r = await run("diff", "vm1");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      ["~ /etc/hosts", "+ /srv/new/", "+ /srv/new/data.bin (2.0 KiB)", "- /var/old.log", "2 created, 1 modified, 1 deleted, 2.1 KiB in created and modified files", ""].join("\n"),
    );
    expect(state.diffCalls).toEqual([{}, { cursor: "3" }]);
  });

  test("--json is one array of {path, kind, size}; include/exclude go to the agent", async () => {
    state.diffCalls.length = 0;
    const r = await run("diff", "vm1", "--json", "--include", "/srv/**", "--include", "/etc/**", "--exclude", "**/*.bin");
    expect(r.code).toBe(0);
    // the agent filters (the fake with picomatch, as the plugin does): /var/old.log and the .bin are not asked for
    expect(JSON.parse(r.stdout)).toEqual([
      { path: "/etc/hosts", kind: "modified", size: 120 },
      { path: "/srv/new", kind: "created", size: 0 },
    ]);
    expect(state.diffCalls[0]).toEqual({ include: ["/srv/**", "/etc/**"], exclude: ["**/*.bin"] });
    const all = await run("diff", "vm1", "--json");
    expect(JSON.parse(all.stdout)).toEqual(state.changes.map(({ path, kind, size }) => ({ path, kind, size })));
    expect(state.diffCalls).toHaveLength(3); // one page, then two for the four changes three at a time
  });

  test("no changes; and an agent without fs-diff is exit 4", async () => {
    const saved = state.changes;
    state.changes = [];
    expect((await run("diff", "vm1")).stdout).toBe("no changes (/overlay/upper)\n");
    expect((await run("diff", "vm1", "--json")).stdout).toBe("[]\n");
    state.changes = saved;
    const r = await run("diff", "bare");
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("[E_UNKNOWN_REQUEST]");
  });
});

describe("sleep-prep and wake", () => {
  test("sleep-prep: each step as the agent streams it, then ready (exit 0); the drain timeout passed on", async () => {
    const r = await run("sleep-prep", "vm1", "--drain-timeout", "12");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^  ok    checkpoint:db +12 ms  exit 0\n  ok    sync +3 ms\n  ok    drop-caches +1 ms\nvm1: ready for a snapshot in 16 ms \(state sleeping\)\n$/);
    expect(state.sleepCalls.at(-1)).toEqual({ drain_timeout_secs: 12, stream: true });
  });

  test("sleep-prep: not ready is exit 1 with the failed step; --json", async () => {
    const r = await run("sleep-prep", "vm2");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("vm2: not ready for a snapshot");
    expect(r.stdout).toMatch(/FAIL  checkpoint:db +12 ms  exit 1: disk full/);
    expect(sick.sleepCalls.at(-1)).toEqual({ stream: true });
    const j = await run("sleep-prep", "vm2", "--json");
    expect(JSON.parse(j.stdout).ready).toBe(false);
    expect(sick.sleepCalls.at(-1)).toEqual({}); // --json asks for no events
    expect((await run("sleep-prep", "vm1", "--drain-timeout", "0")).code).toBe(2);
  });

  test("wake sends the host's time unless --no-clock; a failed restore is exit 1", async () => {
    const r = await run("wake", "vm1");
    expect(r.code).toBe(0);
    expect(state.wakeCalls.at(-1)).toEqual({ wall_clock: new Date(NOW).toISOString(), stream: true });
    expect(r.stdout).toBe("  ok    restore:db              8 ms  exit 0\nvm1: awake in 9 ms (was sleeping; clock skew +1500 ms, clock set)\n");
    await run("wake", "vm1", "--no-clock");
    expect(state.wakeCalls.at(-1)).toEqual({ stream: true });
    const bad = await run("wake", "vm2", "--json");
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).steps[0].ok).toBe(false);
  });
});

describe("exec (the real exec plugin)", () => {
  test("streams stdout and stderr and exits with the command's code", async () => {
    const r = await run("exec", "vm1", "--", "sh", "-c", "echo out; echo err >&2; exit 3");
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("out\n");
    expect(r.stderr).toBe("err\n");
  });

  test("--shell, --env, --cwd and --stdin", async () => {
    const r = await mvmctl(["--vms", f.vmsFile, "exec", "vm1", "--shell", "--env", "GREETING=hi there", "--cwd", "/tmp", "-i", "--", 'echo "$GREETING from $(pwd)"; cat'], { stdin: "piped\n" });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("hi there from /tmp\npiped\n");
  });

  test("--max-output-bytes: the agent cuts the stream and mvmctl says so", async () => {
    const r = await run("exec", "vm1", "--max-output-bytes", "4", "--", "printf", "abcdefgh");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("abcd");
    expect(r.stderr).toContain("output was cut at the agent's cap (stdout 8 bytes");
  });

  test("Ctrl-C (the stop signal) is exit 130 and the agent kills the command", async () => {
    const m = memoryIO();
    const done = runCli(["--vms", f.vmsFile, "exec", "vm1", "--", "sleep", "30"], m.io);
    const agent = f.agents[0]!.agent;
    await waitFor(() => agent.workInFlight() > 0, 5000, "the command to start");
    m.stop.abort();
    expect(await done).toBe(130);
    expect(m.stderr).toContain("interrupted");
    await waitFor(() => agent.workInFlight() === 0, 5000, "the agent to kill the command");
  });

  test("binary output passes through unchanged", async () => {
    const m = memoryIO();
    expect(await runCli(["--vms", f.vmsFile, "exec", "vm1", "--", "printf", "\\377\\000\\351"], m.io)).toBe(0);
    expect([...m.stdoutBytes()]).toEqual([0xff, 0x00, 0xe9]);
  });

  test("a signal is 128+N, a timeout 124, no exec in the agent 255", async () => {
    expect((await run("exec", "vm1", "--", "sh", "-c", "kill -KILL $$")).code).toBe(137);
    const t = await run("exec", "vm1", "--command-timeout", "0.2", "--", "sleep", "5");
    expect(t.code).toBe(124);
    expect(t.stderr).toContain("timed out after 0.2 s");
    const none = await run("exec", "bare", "--", "true");
    expect(none.code).toBe(255);
    expect(none.stderr).toContain("[E_UNKNOWN_REQUEST]");
    expect((await run("exec", "vm1")).code).toBe(2);
  });
});

describe("call", () => {
  test("any request, custom ones included, printed as JSON; events with --events", async () => {
    const hello = await run("call", "vm1", "hello");
    expect(hello.code).toBe(0);
    expect(JSON.parse(hello.stdout).requests).toContain("acme.flush");
    const r = await run("call", "vm1", "acme.flush", '{"bucket":"logs"}', "--events");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('{"event":"progress","data":{"pct":50}}\n{\n  "flushed": "logs"\n}\n');
    const stdin = await mvmctl(["--vms", f.vmsFile, "call", "vm1", "health-check", "-"], { stdin: '{"name":"web"}' });
    expect(JSON.parse(stdin.stdout).status).toBe("healthy");
  });

  test("bad params: exit 2 locally, exit 4 with the agent's details", async () => {
    expect((await run("call", "vm1", "acme.flush", "{nope")).code).toBe(2);
    expect((await run("call", "vm1", "acme.flush", "[1]")).stderr).toContain("must be a JSON object");
    const inv = await run("call", "vm1", "acme.flush", '{"bucket": 5}');
    expect(inv.code).toBe(4);
    expect(inv.stderr).toMatch(/\[E_INVALID_PARAMS\]\n  \/bucket: /);
    expect((await run("call", "vm1", "no.such")).code).toBe(4);
  });
});
