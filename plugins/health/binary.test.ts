// End to end: the agent's real entry point with the health plugin, a unix socket, SIGHUP and SIGTERM.

import { afterEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor, type RawClient } from "../../agent/testing.ts";
import { spawnAgent, type SpawnedAgent } from "../../test/support/index.ts";

let a: SpawnedAgent | null = null;
let client: RawClient | null = null;
afterEach(async () => {
  client?.close();
  client = null;
  await a?.stop();
  a = null;
});

test("the agent binary serves health from integrations.d and reloads on SIGHUP", async () => {
  a = await spawnAgent({ files: { "integrations.d/web.json": { name: "web", health_cmd: "echo up" } } });
  await waitFor(() => a!.console().includes(" ready "), 20_000, "the ready line");
  client = await a.connect();
  const health = async () => (await client!.request({ type: "health", id: 1 })).result as { integrations: { name: string; status: string }[]; ready: boolean };
  await waitFor(async () => (await health()).ready, 10_000, "web to be healthy");
  expect(a.console()).toContain("health web: pending -> healthy (exit 0, ");

  // A file the watcher may also see; either way a SIGHUP must reload without a restart.
  writeFileSync(join(a.configDir, "integrations.d", "db.json"), JSON.stringify({ name: "db" }));
  process.kill(a.pid, "SIGHUP");
  await waitFor(async () => (await health()).integrations.length === 2, 10_000, "db to be added");
  expect((await health()).integrations.map((i) => [i.name, i.status])).toEqual([
    ["db", "unchecked"],
    ["web", "healthy"],
  ]);
  await waitFor(() => a!.console().includes("reload requested"), 10_000, "the SIGHUP line");

  client.close();
  client = null;
  process.kill(a.pid, "SIGTERM");
  expect(await a.exited).toBe(0);
  expect(a.console()).toContain("stopped");
});
