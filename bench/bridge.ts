// bench:bridge — GET /api/vms/:name over the bridge against a direct client call in the same run (added p50 < 1 ms),
// the cost of the gate and auth against the same app without them, and GET /api/vms over 100 VMs (< 1 s)
// against the same calls made directly. usage: bun bench/bridge.ts [--reqs N]

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { collectAll } from "../host/client/overview.ts";
import { clientPool } from "../host/bridge/pool.ts";
import { Hono } from "hono";
import { authKeys, authMiddleware } from "../host/bridge/auth.ts";
import { guardMiddleware } from "../host/bridge/guard.ts";
import { createBridge } from "../host/bridge/app.ts";
import { AgentClient } from "../host/client/agent-client.ts";
import { machineLine, numArg, percentile, startFleetAgent, table, writeResult } from "./lib.ts";

const N = numArg("reqs", 3000);
const VMS = 100;
const LIST_ROUNDS = 15;

const dir = mkdtempSync(join(tmpdir(), "bench-bridge-"));
// One agent process serving 100 sockets: each VM is its own connection.
const fleet = await startFleetAgent(VMS).catch((e) => {
  rmSync(dir, { recursive: true, force: true });
  throw e;
});
const { socks } = fleet;

async function timeEach(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < Math.min(300, n); i++) await fn(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

try {
  const vms = fleet.vms;
  const pool = clientPool();
  // As `mvmctl serve` runs it: a token, the Host allow-list with the bound port, the change checks.
  const token = randomBytes(32).toString("base64url");
  const headers = { authorization: `Bearer ${token}` };
  let port: number | undefined;
  const bridge = createBridge({ vms: () => vms, call: pool.call, token, port: () => port, callTimeoutMs: 10_000 });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: bridge.fetch });
  port = server.port;
  const url = `http://127.0.0.1:${server.port}`;

  // 1. one VM's status: direct client vs the bridge (HTTP on loopback, and in-process app.request)
  const direct = new AgentClient(vms[0]!.agent);
  const d = await timeEach(N, () => direct.call("status"));
  const h = await timeEach(N, async () => {
    const r = await fetch(`${url}/api/vms/vm0`, { headers });
    if (r.status !== 200) throw new Error(`status ${r.status}`);
    await r.arrayBuffer();
  });
  const a = await timeEach(N, async () => (await bridge.app.request(`${url}/api/vms/vm0`, { headers })).arrayBuffer());
  // HTTP floor: a Bun.serve answering a constant, fetched the same way (what HTTP itself costs here)
  const body = JSON.stringify(await direct.call("status"));
  const plain = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(body, { headers: { "content-type": "application/json" } }) });
  const f = await timeEach(N, async () => (await fetch(`http://127.0.0.1:${plain.port}/`)).arrayBuffer());
  await plain.stop(true);
  await direct.close();

  // 1b. what the gate (Host, JSON, origin) and auth (bearer) cost per request: one Hono app answering a
  // constant with them, one without, in-process, the same GET and POST each (the floor is the bare app).
  const withChecks = new Hono();
  withChecks.use(guardMiddleware({ allowHosts: [], boundNames: [], port: () => port }));
  withChecks.use(authMiddleware(authKeys(token), () => port));
  const bare = new Hono();
  for (const app of [withChecks, bare]) app.on(["GET", "POST"], "/x", (c) => c.json({ ok: true }));
  const oneOfEach = (app: Hono) => async () => {
    await (await app.request(`${url}/x`, { headers })).arrayBuffer();
    await (await app.request(`${url}/x`, { method: "POST", headers: { ...headers, "content-type": "application/json", origin: url }, body: "{}" })).arrayBuffer();
  };
  const cb = await timeEach(N, oneOfEach(bare));
  const cc = await timeEach(N, oneOfEach(withChecks));

  // 2. the list over 100 VMs: the bridge vs the same calls made directly (one status per VM, concurrently: the fleet summary)
  const floorPool = clientPool();
  const lf = await timeEach(LIST_ROUNDS, () => collectAll(vms, floorPool.call, 10_000)); // the same calls: one status per VM
  const lb = await timeEach(LIST_ROUNDS, async () => {
    const r = await fetch(`${url}/api/vms`, { headers });
    const j = (await r.json()) as { vms: { reachable: boolean }[] };
    if (j.vms.length !== VMS || !j.vms.every((v) => v.reachable)) throw new Error("not every VM answered");
  });
  const lm = await timeEach(LIST_ROUNDS, async () => (await fetch(`${url}/metrics`, { headers })).text());
  await floorPool.close();
  await server.stop(true);
  await pool.close();

  const p = (xs: number[], q: number) => percentile(xs, q);
  const added = p(h, 50) - p(d, 50);
  const rows: (string | number)[][] = [
    ["GET /api/vms/:name over HTTP, p50 ms", p(h, 50), p(d, 50), p(h, 50) / p(d, 50), "", ""],
    ["added by the bridge, p50 ms", added, "", "", "< 1", added < 1 ? "PASS" : "FAIL"],
    ["GET /api/vms/:name over HTTP, p99 ms", p(h, 99), p(d, 99), p(h, 99) / p(d, 99), "", ""],
    ["same through app.request(), p50 ms", p(a, 50), p(d, 50), p(a, 50) / p(d, 50), "", ""],
    ["plain Bun.serve + fetch of the same body, p50 ms", p(f, 50), "", "", "", ""],
    ["a GET + a POST through the gate and auth, in-process, p50 ms", p(cc, 50), p(cb, 50), p(cc, 50) / p(cb, 50), "", ""],
    ["cost of the gate and auth per request, p50 µs", ((p(cc, 50) - p(cb, 50)) / 2) * 1000, "", "", "", ""],
    [`GET /api/vms over ${VMS} VMs, p50 ms`, p(lb, 50), p(lf, 50), p(lb, 50) / p(lf, 50), "< 1000", p(lb, 50) < 1000 ? "PASS" : "FAIL"],
    [`GET /api/vms over ${VMS} VMs, max ms`, Math.max(...lb), Math.max(...lf), Math.max(...lb) / Math.max(...lf), "", ""],
    [`GET /metrics over ${VMS} VMs, p50 ms`, p(lm, 50), "", "", "", ""],
  ];
  writeResult(
    "bridge",
    [
      "## bench:bridge — the HTTP bridge",
      "",
      `Measured ${machineLine()}. One agent process (every bundled plugin, empty config) listening on ${VMS} unix sockets, one per VM; the bridge and its HTTP client in the bench process. ` +
        `Floor for one VM: a direct AgentClient \`status\` call on the same socket, ${N} sequential calls each after a warm-up. ` +
        `Floor for the list: the same calls the bridge makes (one status per VM, all concurrently: the fleet summary) through direct clients, ${LIST_ROUNDS} rounds each. ` +
        `The bridge runs as \`mvmctl serve\` does: bearer token, Host allow-list with the bound port, JSON and origin checks on changes; the floor of "through the gate and auth" is the same Hono app without them. Reproduce: \`bun run bench:bridge\`.`,
      "",
      table(["figure", "bridge", "floor", "ratio", "target", "verdict"], rows),
      "",
    ].join("\n"),
  );
} finally {
  await fleet.stop();
  rmSync(dir, { recursive: true, force: true });
}
