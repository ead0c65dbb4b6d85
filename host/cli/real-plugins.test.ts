// mvmctl against an agent with the real health, probes, worker and exec plugins (real commands, real files).

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, waitFor } from "../../agent/testing.ts";
import { execPlugin } from "../../plugins/exec/index.ts";
import { healthPlugin } from "../../plugins/health/index.ts";
import { probesPlugin } from "../../plugins/probes/index.ts";
import { workerPlugin } from "../../plugins/worker/index.ts";
import { fleet, mvmctl } from "../testing.ts";

let f: Awaited<ReturnType<typeof fleet>>;
const cfg = tempDir("mvmctl-real-");

beforeAll(async () => {
  mkdirSync(join(cfg.path, "integrations.d"));
  mkdirSync(join(cfg.path, "probes.d"));
  writeFileSync(join(cfg.path, "integrations.d", "10-web.json"), JSON.stringify({ name: "web", health_cmd: "true", health_interval_secs: 3600 }));
  writeFileSync(join(cfg.path, "integrations.d", "20-db.json"), JSON.stringify({ name: "db", health_cmd: "echo 'db down' >&2; exit 3", health_interval_secs: 3600, failure_threshold: 1 }));
  writeFileSync(join(cfg.path, "probes.d", "disk.json"), JSON.stringify({ name: "disk-usage", command: "echo 42%", unit: "percent", interval_secs: 3600 }));
  writeFileSync(join(cfg.path, "loadavg"), "0.50 0.40 0.30 1/100 4242\n");
  f = await fleet([
    {
      name: "real",
      plugins: [
        healthPlugin({ configDir: cfg.path, watch: false }),
        probesPlugin({ dir: join(cfg.path, "probes.d"), watch: false }),
        workerPlugin({ overrides: { loadavg_path: join(cfg.path, "loadavg"), sample_interval_secs: 3600 } }),
        execPlugin(),
      ],
    },
  ]);
  // The first checks and probe runs start right after load: wait for their results.
  await waitFor(async () => {
    const r = await mvmctl(["--vms", f.vmsFile, "health", "real", "--json"]);
    const h = JSON.parse(r.stdout) as { integrations: { last: unknown }[] };
    return h.integrations.every((i) => i.last !== null);
  }, 10_000, "the first health checks");
  await waitFor(async () => JSON.parse((await mvmctl(["--vms", f.vmsFile, "probes", "real", "--json"])).stdout).probes[0].ok !== null, 10_000, "the first probe run");
});
afterAll(async () => {
  await f.close();
  cfg.cleanup();
});

test("ls shows the real status sections", async () => {
  const [row] = JSON.parse((await mvmctl(["--vms", f.vmsFile, "ls", "--json"])).stdout).vms;
  expect(row).toMatchObject({ name: "real", reachable: true, state: "running", worker: "busy", health: { integrations: 2, counts: { healthy: 1, error: 1 }, ready: false } });
  const table = (await mvmctl(["--vms", f.vmsFile, "ls"])).stdout;
  expect(table).toMatch(/\nreal\s+yes\s+running\s+busy\s+\S+.*\s+not ready \(1 error, 1 healthy\)\n/);
});

test("health: the failing check's detail, exit 1; --check re-runs it", async () => {
  const r = await mvmctl(["--vms", f.vmsFile, "health", "real"]);
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/\ndb\s+error\s+.*failed .*exit 3/);
  expect(r.stdout).toMatch(/\nweb\s+healthy\s/);
  const one = await mvmctl(["--vms", f.vmsFile, "health", "real", "--check", "web"]);
  expect(one.code).toBe(0);
});

test("probes: the parsed value with its unit", async () => {
  const r = await mvmctl(["--vms", f.vmsFile, "probes", "real"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/\ndisk-usage\s+42 percent\s+ok\s/);
});

test("exec streams through the real plugin", async () => {
  const r = await mvmctl(["--vms", f.vmsFile, "exec", "real", "--", "sh", "-c", "printf 'a\\n'; sleep 0.05; printf 'b\\n' >&2; exit 7"]);
  expect(r).toEqual({ code: 7, stdout: "a\n", stderr: "b\n" });
});
