// End to end: the agent's real entry point with the health plugin, a unix socket, SIGHUP and SIGTERM.

import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RawClient, tempDir, waitFor } from "../../agent/testing.ts";
import { spawnAgent } from "../../test/reliability/support.ts";

const root = join(import.meta.dir, "../..");
let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

test("the agent binary serves health from integrations.d and reloads on SIGHUP", async () => {
  const d = tempDir("mvm-health-bin-");
  const idir = join(d.path, "integrations.d");
  mkdirSync(idir);
  writeFileSync(join(idir, "web.json"), JSON.stringify({ name: "web", health_cmd: "echo up" }));
  const sock = join(d.path, "agent.sock");
  let stderr = "";
  const proc = Bun.spawn([process.execPath, join(root, "agent/bin.ts"), "--config-dir", d.path, "--listen", `unix:${sock}`], {
    stdout: "ignore",
    stderr: "pipe",
  });
  const pump = (async () => {
    for await (const c of proc.stderr as ReadableStream<Uint8Array>) stderr += Buffer.from(c).toString();
  })();
  let client: RawClient | null = null;
  cleanup = async () => {
    client?.close();
    if (proc.exitCode === null) proc.kill("SIGKILL");
    await proc.exited;
    d.cleanup();
  };
  await waitFor(() => existsSync(sock) && stderr.includes(" ready "), 20_000, `the agent to listen (stderr: ${stderr})`);
  client = await RawClient.connect(sock);
  const health = async () => (await client!.request({ type: "health", id: 1 })).result as { integrations: { name: string; status: string }[]; ready: boolean };
  await waitFor(async () => (await health()).ready, 10_000, "web to be healthy");
  expect(stderr).toContain("health web: pending -> healthy (exit 0, ");

  // A file the watcher may also see; either way a SIGHUP must reload without a restart.
  writeFileSync(join(idir, "db.json"), JSON.stringify({ name: "db" }));
  proc.kill("SIGHUP");
  await waitFor(async () => (await health()).integrations.length === 2, 10_000, "db to be added");
  expect((await health()).integrations.map((i) => [i.name, i.status])).toEqual([
    ["db", "unchecked"],
    ["web", "healthy"],
  ]);
  await waitFor(() => stderr.includes("reload requested"), 10_000, "the SIGHUP line");

  client.close();
  client = null;
  proc.kill("SIGTERM");
  expect(await proc.exited).toBe(0);
  await pump;
  expect(stderr).toContain("stopped");
});

test("a check writing 50 MB leaves the agent process's peak memory bounded (VmHWM of its own process)", async () => {
  const flag = tempDir("mvm-health-mem-");
  const go = join(flag.path, "go");
  // Quiet until the test creates `go`, so the baseline is taken after start-up and a first check.
  const a = await spawnAgent({
    "integrations.d/big.json": {
      name: "big",
      health_cmd: `if [ -f ${go} ]; then head -c 50000000 /dev/zero | tr '\\0' 'x'; echo; fi; echo tail-marker`,
      health_timeout_secs: 120,
      health_interval_secs: 3600,
    },
  });
  let client: RawClient | null = null;
  cleanup = async () => {
    client?.close();
    await a.stop();
    flag.cleanup();
  };
  const hwm = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${a.pid}/status`, "utf8"))![1]) * 1024;
  client = await RawClient.connect(a.socket);
  // The first (scheduled) check runs at load and prints little; then the big one runs on request.
  await waitFor(async () => (await client!.request({ type: "health", id: 1 })).result.integrations[0].last !== null, 60_000, "the first check");
  const base = hwm();
  writeFileSync(go, "");
  const r = await client.request({ type: "health-check", id: 2, params: { name: "big" } });
  expect(r.result.status).toBe("healthy");
  expect(r.result.last.output.endsWith("tail-marker")).toBe(true);
  expect(r.result.last.output.length).toBeGreaterThan(4000); // the big output really came
  // Keeping the output would have cost 50 MB or more; a 4 KiB tail keeps the high-water mark low.
  expect(hwm() - base).toBeLessThan(40 * 1024 * 1024);
});
