// mvmctl ls over a fleet: 50 agents at once, hung and missing agents reported, never dropped; the same JSON as GET /api/vms.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { ManualClock } from "../../agent/clock.ts";
import { startTestAgent, tempDir, waitFor } from "../../agent/testing.ts";
import { createBridge } from "../bridge/app.ts";
import { clientPool } from "../bridge/pool.ts";
import { loadVmList } from "../client/vm-list.ts";
import { fakePlugins, fakeState, fleet, lyingAgent, mvmctl, T0, troubledState } from "../testing.ts";

let f: Awaited<ReturnType<typeof fleet>>;
const hung: net.Server[] = [];
let open = 0;
let maxOpen = 0;

beforeAll(async () => {
  const specs = Array.from({ length: 50 }, (_, i) => ({ name: `vm${String(i).padStart(2, "0")}`, plugins: fakePlugins(fakeState({ worker: i % 2 ? "busy" : "idle" })) }));
  // Five agents that accept connections and never answer (a wedged guest), counted while connected.
  const extra = [];
  const dir = tempDir("mvmctl-hung-");
  for (let i = 0; i < 5; i++) {
    const path = join(dir.path, `hung${i}.sock`);
    const s = net.createServer((c) => {
      maxOpen = Math.max(maxOpen, ++open);
      c.on("close", () => open--);
      c.on("error", () => {});
      c.resume(); // read (and drop) what the client sends, so that its close is seen
    });
    await new Promise<void>((r) => s.listen(path, r));
    hung.push(s);
    extra.push({ name: `hung${i}`, agent: `unix:${path}` });
  }
  extra.push({ name: "missing", agent: `firecracker:${dir.path}/missing/v.sock:52` });
  f = await fleet(specs, extra);
  const close = f.close;
  f.close = async () => {
    await close();
    await Promise.all(hung.map((s) => new Promise((r) => s.close(r))));
    dir.cleanup();
  };
});
afterAll(async () => {
  await f.close();
});

test("ls over 50 agents: every VM listed in file order, hung and missing ones as unreachable, queried at once", async () => {
  const r = await mvmctl(["--vms", f.vmsFile, "--timeout", "1", "ls", "--json"]);
  expect(r.code).toBe(0);
  const rows = JSON.parse(r.stdout).vms as { name: string; reachable: boolean; worker: string | null; error: { code: string } | null }[];
  expect(rows).toHaveLength(56);
  expect(rows.slice(0, 50).every((row) => row.reachable && row.error === null)).toBe(true);
  expect(rows.slice(0, 50).map((row) => row.worker)).toEqual(Array.from({ length: 50 }, (_, i) => (i % 2 ? "busy" : "idle")));
  expect(rows.slice(50, 55).map((row) => [row.name, row.reachable, row.error?.code])).toEqual(Array.from({ length: 5 }, (_, i) => [`hung${i}`, false, "E_CLIENT_TIMEOUT"]));
  expect(rows[55]).toMatchObject({ name: "missing", reachable: false, error: { code: "E_SOCKET_MISSING" } });
  // All five wedged agents held a connection at the same moment: the queries ran concurrently.
  expect(maxOpen).toBe(5);
  // Every connection was closed afterwards.
  await waitFor(() => f.agents.every((a) => a.agent.connections() === 0) && open === 0, 5000, "every connection closed");
});

test("ls table over the same fleet ends with the count line", async () => {
  const r = await mvmctl(["--vms", f.vmsFile, "--timeout", "1", "ls"]);
  const lines = r.stdout.trimEnd().split("\n");
  expect(lines).toHaveLength(58);
  expect(lines.at(-1)).toBe("56 VMs: 50 reachable, 6 unreachable");
  expect(lines[51]).toMatch(/^hung0\s+no\s+-\s+-\s+-\s+E_CLIENT_TIMEOUT: .*within 1000 ms/);
});

describe("ls --json and GET /api/vms", () => {
  test("give the same document for the same fleet: a reachable, an unreachable and misbehaving VMs", async () => {
    const d = tempDir("mvmctl-same-");
    // A fixed clock: uptime_secs is the same in both answers.
    const agent = await startTestAgent({ plugins: fakePlugins(troubledState()), clock: new ManualClock(Date.parse(T0)) });
    const lies = await lyingAgent(join(d.path, "lies.sock"), () => ({ state: 42 }));
    const refuses = await lyingAgent(join(d.path, "refuses.sock"), () => {
      throw { code: "E_BUSY", message: "busy\x1b[2J" };
    });
    const vmsFile = join(d.path, "vms.json");
    const entries = [
      { name: "up", agent: `unix:${agent.socket}`, labels: { role: "web" } },
      { name: "down", agent: `unix:${join(d.path, "missing.sock")}` },
      { name: "lies", agent: lies.address },
      { name: "refuses", agent: refuses.address },
    ];
    writeFileSync(vmsFile, JSON.stringify({ vms: entries }));
    const pool = clientPool();
    try {
      const cli = await mvmctl(["--vms", vmsFile, "ls", "--json"]);
      expect(cli.code).toBe(0);
      const bridge = createBridge({ vms: () => loadVmList({ flag: vmsFile }).vms, call: pool.call, token: null, callTimeoutMs: 5000 });
      const api = await (await bridge.app.request("/api/vms")).json();
      expect(JSON.parse(cli.stdout)).toEqual(api);
      expect(JSON.stringify(JSON.parse(cli.stdout))).toBe(JSON.stringify(api)); // byte for byte, keys in the same order
      expect((api as { vms: { name: string; reachable: boolean; error: { code: string } | null }[] }).vms.map((v) => [v.name, v.reachable, v.error?.code ?? null])).toEqual([
        ["up", true, null],
        ["down", false, "E_SOCKET_MISSING"],
        ["lies", true, "E_PROTOCOL"],
        ["refuses", true, "E_BUSY"],
      ]);
      // The table escapes what an agent said; the JSON carries it as JSON does.
      const table = await mvmctl(["--vms", vmsFile, "ls"]);
      expect(table.stdout).toContain("E_BUSY: busy\\e[2J");
      expect(table.stdout).not.toContain("\x1b[2J");
      const status = await mvmctl(["--vms", vmsFile, "status", "refuses"]);
      expect(status.code).toBe(4);
      expect(status.stderr).toContain("busy\\e[2J");
      expect(status.stderr).not.toContain("\x1b");
      const unknown = await mvmctl(["--vms", vmsFile, "status", "evil\x1b[2J"]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).not.toContain("\x1b");
    } finally {
      await pool.close();
      await Promise.all([lies.close(), refuses.close(), agent.close()]);
      d.cleanup();
    }
  });
});
