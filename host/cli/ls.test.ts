// mvmctl ls over a fleet: 50 agents at once, hung and missing agents reported, never dropped.

import { afterAll, beforeAll, expect, test } from "bun:test";
import net from "node:net";
import { join } from "node:path";
import { tempDir, waitFor } from "../../agent/testing.ts";
import { fakePlugins, fakeState, fleet, mvmctl } from "../testing.ts";

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
  const rows = JSON.parse(r.stdout) as { name: string; reachable: boolean; worker: string | null; error: { code: string } | null }[];
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
