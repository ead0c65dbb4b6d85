// mvmctl version: the client's line, each agent's version and build (hello), unreachable ones listed, no VM list.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { tempDir } from "../../agent/testing.ts";
import { fakePlugins, fakeState, fleet, mvmctl } from "../testing.ts";

let f: Awaited<ReturnType<typeof fleet>>;
beforeAll(async () => {
  f = await fleet([{ name: "vm1", plugins: fakePlugins(fakeState()) }], [{ name: "gone", agent: "unix:/nonexistent/mvm/gone.sock" }]);
});
afterAll(async () => {
  await f.close();
});

test("the client, then one row per VM: version, build, protocol; an unreachable one with its reason", async () => {
  const r = await mvmctl(["--vms", f.vmsFile, "version"]);
  expect(r).toMatchObject({ code: 0, stderr: "" });
  const lines = r.stdout.trimEnd().split("\n");
  expect(lines[0]).toBe(`client: mvmctl 9.9.9 (bun ${Bun.version})`);
  expect(lines[1]).toMatch(/^VM +VERSION +BUILD +PROTOCOL +AGENT$/);
  expect(lines[2]).toMatch(/^vm1 +0\.0\.0 +dev +1 +mvm-guest-agent$/);
  expect(lines[3]).toMatch(/^gone +- +- +- +unreachable: E_SOCKET_MISSING: unix:\/nonexistent\/mvm\/gone.sock: no socket at /);
  expect(lines).toHaveLength(4);
});

test("-o json; named VMs only; an unknown one is exit 2", async () => {
  const doc = JSON.parse((await mvmctl(["--vms", f.vmsFile, "version", "vm1", "-o", "json"])).stdout);
  expect(doc).toEqual({
    client: { name: "mvmctl", version: "9.9.9", runtime: `bun ${Bun.version}`, compiled: false },
    agents: [{ vm: "vm1", reachable: true, agent: "mvm-guest-agent", version: "0.0.0", build: "dev", protocol: 1, error: null }],
  });
  const bad = await mvmctl(["--vms", f.vmsFile, "version", "vm9"]);
  expect(bad.code).toBe(2);
  expect(bad.stdout).toBe("");
});

test("without a VM list (the default file missing): the client alone, exit 0; an explicit list that is missing: exit 2", async () => {
  const home = tempDir("mvmctl-version-home-");
  try {
    expect(await mvmctl(["version"], { env: { HOME: home.path } })).toEqual({ code: 0, stdout: "client: mvmctl 9.9.9 (bun " + Bun.version + ")\n", stderr: "" });
    expect(JSON.parse((await mvmctl(["version", "--json"], { env: { HOME: home.path } })).stdout).agents).toEqual([]);
    expect((await mvmctl(["--vms", `${home.path}/none.json`, "version"])).code).toBe(2);
  } finally {
    home.cleanup();
  }
});
