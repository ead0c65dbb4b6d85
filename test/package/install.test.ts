// `npm pack`, then `npm i -g` of that tarball into a temp prefix, run on a PATH with only Node and npm:
// both bins work, the installed mvmctl reaches the installed agent, and the bins find their own bun.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readFileSync, readlinkSync, realpathSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, waitFor } from "../../agent/testing.ts";
import { installGlobal, nodeOnlyEnv, packOnce, PKG, ROOT, type GlobalInstall, type Packed } from "./pack.ts";
import { hostileCwd, run, spawnLogged } from "./procs.ts";

describe("npm pack", () => {
  let packed: Packed;
  beforeAll(async () => {
    packed = await packOnce();
    console.log(`npm pack: ${packed.files.length} files, ${(packed.size / 1024).toFixed(0)} KiB (${(packed.unpackedSize / 1024).toFixed(0)} KiB unpacked) in ${(packed.ms / 1000).toFixed(1)} s`);
  }, 120_000);

  test("the tarball holds the bins, the sources, the units and the docs, and no tests, bench, scripts (but the build's library) or caches", () => {
    const f = packed.files;
    for (const need of ["package.json", "README.md", "tsconfig.json", "bin/launch.sh", "bin/bunfig.toml", "agent/bin.ts", "host/cli/bin.ts", "plugins/index.ts", "docs/install.md", "man/mvmctl.1"])
      expect(f).toContain(need);
    for (const bin of Object.values(PKG.bin)) expect(f).toContain(bin);
    for (const unit of ["deploy/systemd/mvm-guest-agent.service", "deploy/systemd/mvm-bridge.service", "deploy/docker/Dockerfile"]) expect(f).toContain(unit);
    expect(f.filter((p) => /\.test\.tsx?$/.test(p))).toEqual([]);
    expect(f.filter((p) => /^(test|bench|scripts|examples|dist|node_modules|nix|\.ci|\.cache)\//.test(p) || p.includes("/.cache/") || p.includes("/fixtures/")).sort()).toEqual(["scripts/build.ts", "scripts/checkers.ts"]);
    // The exports map names files the package has (scripts/build.ts is the `mvm-guest-agent/build` entry; it imports scripts/checkers.ts).
    for (const target of Object.values((PKG as { exports?: Record<string, string> }).exports ?? {})) expect(f).toContain(target.replace(/^\.\//, ""));
    // Source and docs only: a compiled binary (100+ MB) or a cache that slipped in would show here.
    expect(packed.size).toBeLessThan(1024 * 1024);
  });
});

describe("npm i -g from the tarball, on a PATH with only Node and npm", () => {
  const d = tempDir("mvm-install-");
  const marker = join(d.path, "preloaded");
  let g: GlobalInstall;
  let env: Record<string, string>;
  let cwd: string;
  const running: ReturnType<typeof spawnLogged>[] = [];

  beforeAll(async () => {
    const { tarball } = await packOnce();
    // A space in the prefix: the shims must quote every path.
    g = await installGlobal(tarball, join(d.path, "global prefix"));
    console.log(`npm i -g (prefer-offline) from the tarball: ${(g.ms / 1000).toFixed(1)} s`);
    mkdirSync(join(d.path, "home"));
    env = nodeOnlyEnv(g.binDir, join(d.path, "home"));
    cwd = hostileCwd(d.path, marker);
  }, 180_000);
  afterAll(async () => {
    await Promise.all(running.map((r) => r.stop()));
    d.cleanup();
  });

  test("every bin is linked, executable and starts with a shebang", () => {
    for (const [name, rel] of Object.entries(PKG.bin)) {
      const linked = join(g.binDir, name);
      expect(readlinkSync(linked)).toEndWith(rel);
      expect(statSync(linked).mode & 0o111).toBe(0o111);
      expect(readFileSync(join(g.packageDir, rel), "utf8")).toStartWith("#!/bin/sh\n");
    }
    // The shims carry no entry that the package lacks.
    for (const rel of Object.values(PKG.bin)) {
      const entry = /^entry=(\S+)$/m.exec(readFileSync(join(g.packageDir, rel), "utf8"))?.[1];
      expect(existsSync(join(g.packageDir, entry!))).toBe(true);
    }
  });

  test("the man page is installed where man looks (PREFIX/share/man/man1), and man finds it there", () => {
    const page = join(g.prefix, "share", "man", "man1", "mvmctl.1");
    expect(readFileSync(page, "utf8")).toBe(readFileSync(join(ROOT, "man", "mvmctl.1"), "utf8"));
    const man = Bun.spawnSync(["sh", "-c", "command -v man >/dev/null && man -M \"$1\" -w mvmctl || echo no-man", "sh", join(g.prefix, "share", "man")], { stdout: "pipe" });
    const where = man.stdout.toString().trim();
    // npm links the page (share/man/man1/mvmctl.1 -> the package's man/mvmctl.1); man resolves the link.
    if (where !== "no-man") expect(realpathSync(where)).toBe(realpathSync(page));
  });

  test("mvmctl --version and mvm-guest-agent --version, from a directory with a bunfig.toml preload and a .env", async () => {
    const ctl = await run(["mvmctl", "--version"], { cwd, env });
    expect(ctl).toMatchObject({ code: 0, stdout: `mvmctl ${PKG.version}\n`, stderr: "" });
    const agent = await run(["mvm-guest-agent", "--version"], { cwd, env });
    // The npm agent is the production plugin set, as dist/mvm-guest-agent; its version is the package's.
    expect(agent).toMatchObject({ code: 0, stdout: `mvm-guest-agent ${PKG.version} (prod)\n`, stderr: "" });
    expect(existsSync(marker)).toBe(false);
  });

  test("the installed agent serves on a unix socket as bun itself (the shim execs), and the installed mvmctl reaches it", async () => {
    const work = join(d.path, "vm1");
    mkdirSync(join(work, "config"), { recursive: true, mode: 0o700 });
    const sock = join(work, "agent.sock");
    const agent = spawnLogged(["mvm-guest-agent", "--listen", `unix:${sock}`, "--config-dir", join(work, "config")], { cwd, env });
    running.push(agent);
    expect((await agent.match(/ ready \((\w+) build ([^,]+),/, "the installed agent's ready line")).slice(1)).toEqual(["prod", PKG.version]);
    // No shell between the service manager and the agent: signals and the pid are the agent's own.
    expect(readlinkSync(`/proc/${agent.proc.pid}/exe`)).toBe(join(g.packageDir, "node_modules/bun/bin/bun.exe"));

    // The VM list comes from HOME (the .env in the cwd, which names another one, is not read).
    mkdirSync(join(env.HOME!, ".config/mvm"), { recursive: true });
    writeFileSync(join(env.HOME!, ".config/mvm/vms.json"), JSON.stringify({ vms: [{ name: "vm1", agent: `unix:${sock}` }] }));
    const status = await run(["mvmctl", "status", "vm1", "--json"], { cwd, env });
    expect(status.stderr).toBe("");
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout);
    expect(s).toMatchObject({ agent: "mvm-guest-agent", version: PKG.version, build: "prod", pid: agent.proc.pid, state: "running" });
    expect(Object.keys(s.plugins)).not.toContain("exec");

    expect(await agent.stop()).toBe(0);
    expect(existsSync(sock)).toBe(false);
    expect(existsSync(marker)).toBe(false);
  });

  test("the installed mvmctl serve renders the dashboard (JSX under the package's own tsconfig, not the cwd's)", async () => {
    const tokenFile = join(d.path, "bridge-token");
    writeFileSync(join(d.path, "vms.json"), JSON.stringify({ vms: [{ name: "gone", agent: `unix:${join(d.path, "nothing.sock")}` }] }));
    const serve = spawnLogged(["mvmctl", "serve", "--port", "0", "--token-file", tokenFile, "--vms", join(d.path, "vms.json")], { cwd, env });
    running.push(serve);
    const url = (await serve.match(/mvm bridge on (http:\/\/127\.0\.0\.1:\d+)/, "the bridge's address"))[1]!;
    const token = readFileSync(tokenFile, "utf8").trim();
    const page = await fetch(`${url}/`, { headers: { authorization: `Bearer ${token}` } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toStartWith("<!doctype html>");
    expect(html).toContain('<section class="vm sev-unreachable" data-vm="gone"'); // a card rendered by hono/jsx
    expect(await serve.stop()).toBe(0);
    expect(existsSync(marker)).toBe(false);
  });

  test("a symlink to the linked bin (a second hop, in another directory) still finds the package", async () => {
    const elsewhere = join(d.path, "usr local bin");
    mkdirSync(elsewhere);
    symlinkSync(join(g.binDir, "mvmctl"), join(elsewhere, "mvmctl"));
    expect(await run([join(elsewhere, "mvmctl"), "--version"], { cwd, env })).toMatchObject({ code: 0, stdout: `mvmctl ${PKG.version}\n` });
  });
});

describe("npm i -g --ignore-scripts (bun's postinstall does not run)", () => {
  const d = tempDir("mvm-install-noscripts-");
  let g: GlobalInstall;
  beforeAll(async () => {
    g = await installGlobal((await packOnce()).tarball, join(d.path, "prefix"), ["--ignore-scripts"]);
  }, 180_000);
  afterAll(() => d.cleanup());

  test("bun.exe is still bun's placeholder, and the bins run the platform package's binary instead", async () => {
    // The placeholder is a small script that says the postinstall did not run.
    expect(statSync(join(g.packageDir, "node_modules/bun/bin/bun.exe")).size).toBeLessThan(4096);
    const env = nodeOnlyEnv(g.binDir, d.path);
    expect(await run(["mvmctl", "--version"], { cwd: d.path, env })).toMatchObject({ code: 0, stdout: `mvmctl ${PKG.version}\n`, stderr: "" });
    expect(await run(["mvm-guest-agent", "--version"], { cwd: d.path, env })).toMatchObject({ code: 0, stdout: `mvm-guest-agent ${PKG.version} (prod)\n` });
  });
});

describe("the shims without a bun", () => {
  const d = tempDir("mvm-nobun-");
  afterAll(() => d.cleanup());

  test("no node_modules/bun above the package: exit 127 and what to do, not a shell error", async () => {
    const pkg = join(d.path, "pkg");
    cpSync(join(ROOT, "bin"), join(pkg, "bin"), { recursive: true });
    const r = await run([join(pkg, "bin/mvmctl"), "--version"], { cwd: d.path, env: { PATH: "/usr/bin:/bin" } });
    expect(r.code).toBe(127);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("mvmctl: cannot find bun");
    expect(r.stderr).toContain("--ignore-scripts");
    expect(r.stderr).toContain("MVM_BUN=");
  });

  test("MVM_BUN naming something that is not an executable file: exit 127 naming it", async () => {
    for (const bad of [join(d.path, "missing"), d.path]) {
      const r = await run([join(ROOT, "bin/mvm-guest-agent"), "--version"], { cwd: d.path, env: { PATH: "/usr/bin:/bin", MVM_BUN: bad } });
      expect(r).toMatchObject({ code: 127, stdout: "", stderr: `mvm-guest-agent: MVM_BUN=${bad} is not an executable file\n` });
    }
  });

  test("MVM_BUN is used when set (and MVM_BUILD=dev is the explicit way to the dev plugin set)", async () => {
    const r = await run([join(ROOT, "bin/mvm-guest-agent"), "--version"], { cwd: d.path, env: { PATH: "/usr/bin:/bin", MVM_BUN: process.execPath, MVM_BUILD: "dev" } });
    expect(r).toMatchObject({ code: 0, stdout: `mvm-guest-agent ${PKG.version} (dev)\n` });
  });
});
