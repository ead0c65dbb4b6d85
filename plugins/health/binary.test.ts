// End to end: the agent's real entry point with the health plugin, a unix socket, SIGHUP and SIGTERM.

import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RawClient, tempDir, waitFor } from "../../agent/testing.ts";

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
