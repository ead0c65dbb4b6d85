// dist/mvmctl and dist/mvm-guest-agent as `npm run build` makes them: versions, a real command from the
// compiled mvmctl to the compiled agent (and its bridge), readiness to systemd, and a hostile working dir.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NotifyReceiver } from "../../agent/notify-testing.ts";
import { RawClient, tempDir } from "../../agent/testing.ts";
import { parseBuildArgs, usage } from "../../scripts/build.ts";
import { compiledOnce, startCompiledAgent, type Binaries } from "./binaries.ts";
import { PKG } from "./pack.ts";
import { hostileCwd, run, spawnLogged } from "./procs.ts";

describe("scripts/build.ts flags", () => {
  const pick = (argv: string[]) => {
    const o = parseBuildArgs(argv);
    return { flavors: o.flavors, mvmctl: o.mvmctl };
  };
  test("npm run build makes both agent flavors and mvmctl; each -only flag makes one binary", () => {
    expect(pick([])).toEqual({ flavors: ["prod", "dev"], mvmctl: true });
    expect(pick(["--prod-only"])).toEqual({ flavors: ["prod"], mvmctl: false });
    expect(pick(["--dev-only"])).toEqual({ flavors: ["dev"], mvmctl: false });
    expect(pick(["--mvmctl-only"])).toEqual({ flavors: [], mvmctl: true });
    expect(pick(["--no-mvmctl"])).toEqual({ flavors: ["prod", "dev"], mvmctl: false });
  });
  test("an unknown flag is an error that names the nearest one; choices that exclude each other are errors", () => {
    expect(() => parseBuildArgs(["--mvmctl-onyl"])).toThrow("unknown flag --mvmctl-onyl (did you mean --mvmctl-only?)");
    expect(() => parseBuildArgs(["--mvmctl-only", "--prod-only"])).toThrow("give one of them");
    expect(() => parseBuildArgs(["--mvmctl-only", "--no-mvmctl"])).toThrow("give one of them");
    expect(usage()).toContain("--mvmctl-only");
  });
});

describe("the compiled binaries", () => {
  const d = tempDir("mvm-dist-");
  const marker = join(d.path, "preloaded");
  let bin: Binaries;
  let cwd: string;
  const env = { PATH: "/usr/bin:/bin", HOME: d.path };
  const running: ReturnType<typeof spawnLogged>[] = [];

  beforeAll(async () => {
    bin = await compiledOnce();
    console.log(bin.reused ? "dist/mvm-guest-agent and dist/mvmctl: from the binary cache (same sources)" : `compiled dist/mvm-guest-agent and dist/mvmctl in ${(bin.ms / 1000).toFixed(1)} s`);
    cwd = hostileCwd(d.path, marker);
  }, 180_000);
  afterAll(async () => {
    await Promise.all(running.map((r) => r.stop()));
    d.cleanup();
  });

  test("--version of both, from a directory with a bunfig.toml preload and a .env (neither is read)", async () => {
    expect(await run([bin.mvmctl, "--version"], { cwd, env })).toMatchObject({ code: 0, stdout: `mvmctl ${PKG.version}\n`, stderr: "" });
    expect(await run([bin.agent, "--version"], { cwd, env })).toMatchObject({ code: 0, stdout: `mvm-guest-agent ${PKG.version} (prod)\n`, stderr: "" });
    // The .env names a VM list that does not exist; without it, mvmctl looks in HOME.
    const ls = await run([bin.mvmctl, "ls"], { cwd, env });
    expect(ls.code).toBe(2);
    expect(ls.stderr).toContain(`${d.path}/.config/mvm/vms.json does not exist`);
    expect(existsSync(marker)).toBe(false);
  });

  test("the agent tells systemd READY=1 when it serves; mvmctl status and the compiled bridge's /metrics reach it", async () => {
    const work = join(d.path, "vm1");
    mkdirSync(join(work, "config"), { recursive: true, mode: 0o700 });
    const sock = join(work, "agent.sock");
    const notify = new NotifyReceiver(`@mvm-dist-test-${process.pid}`);
    try {
      const agent = spawnLogged([bin.agent, "--listen", `unix:${sock}`, "--config-dir", join(work, "config")], { cwd, env: { ...env, NOTIFY_SOCKET: notify.address } });
      running.push(agent);
      expect(await notify.next("READY=1 from the compiled agent")).toBe("READY=1");

      const vms = join(d.path, "vms.json");
      writeFileSync(vms, JSON.stringify({ vms: [{ name: "vm1", agent: `unix:${sock}` }] }));
      const status = await run([bin.mvmctl, "--vms", vms, "status", "vm1", "--json"], { cwd, env });
      expect(status).toMatchObject({ code: 0, stderr: "" });
      expect(JSON.parse(status.stdout)).toMatchObject({ agent: "mvm-guest-agent", build: "prod", version: PKG.version, pid: agent.proc.pid });
      // mvmctl version knows it is the compiled binary; the completion scripts' VM names come from the binary too.
      const version = await run([bin.mvmctl, "--vms", vms, "version", "-o", "json"], { cwd, env });
      expect(JSON.parse(version.stdout)).toMatchObject({ client: { name: "mvmctl", version: PKG.version, compiled: true }, agents: [{ vm: "vm1", version: PKG.version, build: "prod", error: null }] });
      expect(await run([bin.mvmctl, "--vms", vms, "__complete", "vms"], { cwd, env })).toMatchObject({ code: 0, stdout: "vm1\n", stderr: "" });

      // serve is loaded on demand (a dynamic import): it must be inside the binary too.
      const tokenFile = join(d.path, "token");
      const serve = spawnLogged([bin.mvmctl, "serve", "--port", "0", "--token-file", tokenFile, "--vms", vms], { cwd, env });
      running.push(serve);
      const url = (await serve.match(/mvm bridge on (http:\/\/127\.0\.0\.1:\d+)/, "the compiled bridge's address"))[1]!;
      const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${readFileSync(tokenFile, "utf8").trim()}` } });
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('mvm_agent_up{vm="vm1"} 1\n');
      expect(await serve.stop()).toBe(0);

      expect(await agent.stop()).toBe(0);
      expect(await notify.next("STOPPING=1")).toBe("STOPPING=1");
      expect(existsSync(marker)).toBe(false);
    } finally {
      notify.close();
    }
  });

  test("the agent carries no schema compiler (build-time checkers) and still checks envelopes, params and mvm verbs", async () => {
    // TypeCompiler's own error class: in the file only when the compiler is (scripts/checkers.ts).
    expect(readFileSync(bin.agent).includes("TypeCompilerTypeGuardError")).toBe(false);
    const work = join(d.path, "checks");
    mkdirSync(work);
    const { sock, agent } = await startCompiledAgent(work);
    running.push(agent);
    const c = await RawClient.connect(sock);
    try {
      c.send({ type: "ping", id: 1 });
      expect(await c.next()).toEqual({ id: 1, type: "ping", ok: true, result: {} });
      c.send({ type: "ping", id: 2, params: { extra: 1 } });
      expect(await c.next()).toMatchObject({ id: 2, ok: false, error: { code: "E_INVALID_PARAMS", data: [{ path: "/extra" }] } });
      c.send({ type: 7, id: 3 });
      expect(await c.next()).toMatchObject({ id: 3, ok: false, error: { code: "E_BAD_REQUEST", data: [{ path: "/type" }] } });
      c.send({ SleepPrep: { drain_timeout_secs: "soon" } });
      expect(JSON.stringify(await c.next())).toContain("malformed request: SleepPrep");
    } finally {
      c.sock.destroy();
    }
    expect(await agent.stop()).toBe(0);
  });
});
