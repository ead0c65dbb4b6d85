// mvmctl's command line: help, the one parser (global flags anywhere, "did you mean"), the VM list, and serve's flags.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../../agent/testing.ts";
import { fakePlugins, fakeState, fleet, memoryIO, mvmctl } from "../testing.ts";
import { COMMANDS, runCli } from "./run.ts";

let f: Awaited<ReturnType<typeof fleet>>;

beforeAll(async () => {
  f = await fleet([{ name: "vm1", plugins: fakePlugins(fakeState()) }, { name: "vm2" }, { name: "bare" }], [{ name: "gone", agent: "firecracker:/nonexistent/mvm/gone/v.sock:52" }]);
});
afterAll(async () => {
  await f.close();
});

const run = (...argv: string[]) => mvmctl(["--vms", f.vmsFile, ...argv]);

describe("help and usage", () => {
  test("--help lists every command; each command has its own --help", async () => {
    const top = await mvmctl(["--help"]);
    expect(top.code).toBe(0);
    for (const c of COMMANDS) {
      expect(top.stdout).toContain(`  ${c.usage.split(/ \[| -/)[0]!}  `);
      const h = await mvmctl([c.name, "--help"]);
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(/usage: mvmctl/i);
      const h2 = await mvmctl(["help", c.name]);
      expect(h2.code).toBe(0);
    }
    expect((await mvmctl(["logs", "-h"])).stdout).toContain("usage: mvmctl logs VM [-f] [-n N]");
  });

  test("no command: the help on stdout, exit 0 (as kubectl, docker, gh); unknown command and flag: exit 2", async () => {
    const none = await mvmctl([]);
    expect(none).toMatchObject({ code: 0, stderr: "" });
    expect(none.stdout).toContain("usage: mvmctl");
    const bad = await mvmctl(["frobnicate"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown command "frobnicate"');
    const flag = await run("ls", "--bogus");
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown flag --bogus");
    const combined = await run("logs", "vm1", "-fn", "5");
    expect(combined.code).toBe(2);
    expect(combined.stderr).toContain("short flags cannot be combined");
    expect((await run("logs", "vm1", "-x")).stderr).toBe("mvmctl: logs: unknown flag -x (see mvmctl logs --help)\n");
    expect((await run("status")).code).toBe(2);
    expect((await run("status", "vm1", "extra")).stderr).toContain('unexpected argument "extra"');
    expect((await mvmctl(["--version"])).stdout).toBe("mvmctl 9.9.9\n");
  });
});

describe("one parser for every command", () => {
  test("a mistyped command or flag is answered with the nearest one, exit 2", async () => {
    expect(await mvmctl(["helth", "vm1"])).toMatchObject({ code: 2, stderr: 'mvmctl: unknown command "helth" (did you mean health?)\n' });
    expect(await run("ls", "--jsno")).toMatchObject({ code: 2, stderr: "mvmctl: ls: unknown flag --jsno (did you mean --json?) (see mvmctl ls --help)\n" });
    expect((await run("logs", "vm1", "--folow")).stderr).toContain("did you mean --follow?");
    expect((await mvmctl(["--vsm", "x", "ls"])).stderr).toContain("unknown flag --vsm (did you mean --vms?)");
    expect((await mvmctl(["help", "sleep-prp"])).stderr).toContain("did you mean sleep-prep?");
  });

  test("global flags before or after the command, the later one winning; a command flag before the command still works", async () => {
    expect((await mvmctl(["--timeout", "0.01", "ls", "--json", "--vms", f.vmsFile, "--timeout", "5"])).code).toBe(0);
    const early = await mvmctl(["--vms", f.vmsFile, "--json", "ls"]);
    expect(early.code).toBe(0);
    expect(JSON.parse(early.stdout).vms).toHaveLength(4);
    expect((await run("ls", "--timeout", "0")).stderr).toBe("mvmctl: --timeout: expected seconds above 0 and at most 86400, got 0\n");
    expect((await run("ls", "--timeout", "soon")).stderr).toBe('mvmctl: ls: --timeout: expected a number, got "soon"\n');
  });

  test("no command's flag shadows a global one, except wait's --timeout (the whole wait), which leaves the global one before the command", async () => {
    for (const c of COMMANDS)
      for (const g of ["vms", "timeout", "color", "help"]) {
        const allowed = c.name === "wait" && g === "timeout";
        expect({ c: c.name, g, has: Object.hasOwn(c.flags, g) }).toEqual({ c: c.name, g, has: allowed });
      }
    // After `wait`, --timeout is wait's; before it, the per-call deadline (a hanging call is cut at 50 ms, not 5 s).
    const r = await mvmctl(["--vms", f.vmsFile, "--timeout", "0.05", "wait", "gone", "--for", "reachable", "--timeout", "0.2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("not reachable after 200 ms");
  });

  test("serve's flags go through the same parser: --json is an unknown flag, not one that 'needs a value'", async () => {
    expect(await mvmctl(["serve", "--json"])).toMatchObject({ code: 2, stderr: "mvmctl: serve: unknown flag --json (see mvmctl serve --help)\n" });
    expect((await mvmctl(["serve", "--prot", "0"])).stderr).toContain("did you mean --port?");
    const help = await mvmctl(["serve", "--help"]);
    expect(help.stdout).toContain("usage: mvmctl serve");
    expect(help.stdout).toContain("--[no-]auth");
    expect(help.stdout).toContain("--allow-host NAME (repeatable)");
  });

  test("serve: flags that would weaken the bridge are refused with exit 2 and a clear reason, before anything listens", async () => {
    const cases: [string[], string][] = [
      [["--no-auth", "--host", "0.0.0.0"], "--no-auth is only allowed on a loopback address (--host 127.0.0.1, ::1 or localhost), not 0.0.0.0"],
      [["--no-auth", "--token", "abc"], "--no-auth cannot be combined with --token or --token-file"],
      [["--no-auth", "--token-file", "/x"], "--no-auth cannot be combined"],
      [["--token", "a", "--token-file", "/x"], "--token and --token-file: give one of them"],
      [["--token", "two words"], "--token: the token must be printable ASCII"],
      [["--token", ""], "--token: the token is empty"],
      [["--no-auth=yes"], "--no-auth takes no value"],
      [["--allow-host", "http://evil.example/"], '--allow-host: "http://evil.example/" is not a host name'],
      [["--allow-host"], "--allow-host needs a value"],
      [["--port", "x"], '--port: expected a number, got "x"'],
      [["--port", "65536"], "--port: expected 0..65535, got 65536"],
      [["--call-timeout-secs", "0"], "--call-timeout-secs: expected a number of seconds in (0, 3600], got 0"],
      [["--metrics-max-probe-fields", "-1"], "--metrics-max-probe-fields: expected a whole number from 0 to 1000, got -1"],
      [["--metrics-max-probe-fields", "2.5"], "--metrics-max-probe-fields: expected a whole number from 0 to 1000, got 2.5"],
    ];
    for (const [args, said] of cases) {
      const r = await mvmctl(["serve", "--port", "0", "--vms", f.vmsFile, ...args], { env: { XDG_CONFIG_HOME: join(f.dir, "xdg-flags") } });
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(said);
    }
  });
});

describe("the VM list", () => {
  test("--vms before or after the command, --vms=, MVMCTL_VMS, and the XDG default", async () => {
    for (const argv of [["--vms", f.vmsFile, "ls", "--json"], ["ls", "--json", "--vms", f.vmsFile], [`--vms=${f.vmsFile}`, "ls", "--json"]]) {
      const r = await mvmctl(argv);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).vms.map((v: { name: string }) => v.name)).toEqual(["vm1", "vm2", "bare", "gone"]);
    }
    const env = await mvmctl(["ls", "--json"], { env: { MVMCTL_VMS: f.vmsFile } });
    expect(JSON.parse(env.stdout).vms).toHaveLength(4);
    const cfg = join(f.dir, "xdg");
    mkdirSync(join(cfg, "mvm"), { recursive: true });
    writeFileSync(join(cfg, "mvm", "vms.json"), JSON.stringify({ vms: [] }));
    const xdg = await mvmctl(["ls"], { env: { XDG_CONFIG_HOME: cfg } });
    expect(xdg.stdout).toContain("no VMs in");
    const missing = await mvmctl(["ls"], { env: { HOME: join(f.dir, "nohome") } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("Pass --vms FILE, set MVMCTL_VMS, or create it");
  });

  test("a bad vms.json names the file, the entry and the field; exit 2", async () => {
    const bad = join(f.dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ vms: [{ name: "ok", agent: "unix:/x" }, { name: "b", agent: "tcp:1.2.3.4" }] }));
    const r = await mvmctl(["--vms", bad, "ls"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(bad);
    expect(r.stderr).toContain('vms[1] ("b").agent');
    writeFileSync(bad, JSON.stringify({ vms: [{ name: "a", agent: "unix:/x", consol_log: "/y" }] }));
    expect((await mvmctl(["--vms", bad, "ls"])).stderr).toContain("consol_log");
    writeFileSync(bad, JSON.stringify({ vms: [{ name: "a", agent: "unix:/x" }, { name: "a", agent: "unix:/y" }] }));
    expect((await mvmctl(["--vms", bad, "ls"])).stderr).toContain('vms[1].name: "a" is already used by vms[0]');
    writeFileSync(bad, "{ nope");
    expect((await mvmctl(["--vms", bad, "ls"])).stderr).toContain("not valid JSON");
  });

  test("an unknown VM is exit 2 with a suggestion", async () => {
    const r = await run("status", "vm3");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no VM named "vm3"');
    expect(r.stderr).toContain('did you mean "vm1" or "vm2"');
  });
});

describe("serve", () => {
  test("runs the bridge with the global --vms handed on and its token file in the config dir, and stops on the signal", async () => {
    const config = join(f.dir, "xdg");
    const m = memoryIO({ env: { XDG_CONFIG_HOME: config } });
    const done = runCli(["serve", "--port", "0", "--vms", f.vmsFile, "--timeout", "2"], m.io);
    await waitFor(() => /mvm bridge on (http:\/\/127\.0\.0\.1:\d+\/)/.test(m.stdout), 10_000, "the bridge to listen");
    const url = /mvm bridge on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(m.stdout)![1]!;
    expect(m.stdout).toContain(`4 VMs from ${f.vmsFile}; token created in ${join(config, "mvm", "bridge-token")}`);
    const token = readFileSync(join(config, "mvm", "bridge-token"), "utf8").trim();
    expect(m.stdout).toContain(`dashboard: ${url}?token=${token}`);
    expect((await fetch(`${url}api/vms/vm1`)).status).toBe(401);
    const res = await fetch(`${url}api/vms/vm1`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    m.stop.abort();
    expect(await done).toBe(0);
    expect((await mvmctl(["serve", "--help"])).stdout).toContain("--port");
  });
});
