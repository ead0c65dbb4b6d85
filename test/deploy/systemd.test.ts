// deploy/systemd: `systemd-analyze verify` accepts both units and the network drop-in without a word, the
// exposure scores are the ones docs/install.md states, and every flag in an ExecStart is a real flag.

import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CODE_LOADING_ENV } from "../../agent/command.ts";
import { tempDir } from "../../agent/testing.ts";
import { execStart, loadUnit, ROOT, setting, unitRoot } from "./units.ts";

const analyze = Bun.which("systemd-analyze");
if (!analyze)
  console.warn(
    "\n!!! SKIPPED: `systemd-analyze verify` and `security` were NOT run on deploy/systemd: systemd-analyze is not installed.\n" +
      "!!! Install it with: apt-get install -y --no-install-recommends systemd\n",
  );

function sa(args: string[]): { code: number; out: string } {
  const p = Bun.spawnSync([analyze!, ...args], { stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin", SYSTEMD_COLORS: "0", SYSTEMD_PAGER: "" } });
  return { code: p.exitCode, out: (p.stdout.toString() + p.stderr.toString()).trim() };
}

const d = tempDir("mvm-units-");
afterAll(() => d.cleanup());
let n = 0;

describe.skipIf(!analyze)("systemd-analyze", () => {
  test("verify: both units and the network drop-in, not one warning", () => {
    const root = unitRoot(join(d.path, `root-${++n}`));
    expect(sa(["verify", `--root=${root}`, "mvm-guest-agent.service", "mvm-bridge.service"])).toEqual({ code: 0, out: "" });
  });

  test("verify speaks up about a mistyped setting (so that silence above means something)", () => {
    const root = unitRoot(join(d.path, `root-${++n}`), (name, t) => (name === "mvm-bridge.service" ? t.replace("ProtectSystem=strict", "ProtectSystem=strictly").replace("UMask=", "Umask=") : t));
    const r = sa(["verify", `--root=${root}`, "mvm-bridge.service"]);
    expect(r.out).toContain("Failed to parse protect system value, ignoring: strictly");
    expect(r.out).toContain("Unknown key 'Umask'");
  });

  test("security --offline: the exposure scores docs/install.md states (bridge OK; the agent, root by design, UNSAFE)", () => {
    const root = unitRoot(join(d.path, `root-${++n}`));
    const doc = readFileSync(join(ROOT, "docs/install.md"), "utf8").replace(/\s+/g, " ");
    const scores: Record<string, string> = {};
    for (const unit of ["mvm-bridge.service", "mvm-guest-agent.service"]) {
      const r = sa(["security", "--offline=true", `--root=${root}`, unit]);
      expect(r.code).toBe(0);
      const m = new RegExp(`Overall exposure level for ${unit.replace(".", "\\.")}: (\\d+\\.\\d) (\\w+)`).exec(r.out);
      expect(m).not.toBeNull();
      scores[unit] = `${m![1]} ${m![2]}`;
      expect(doc).toContain(`\`systemd-analyze security\` rates \`${unit}\` ${m![1]} (${m![2]})`);
    }
    console.log(`systemd-analyze security: ${JSON.stringify(scores)}`);
    expect(scores["mvm-bridge.service"]).toEndWith(" OK");
  });
});

test("both units unset every environment variable that makes Bun or Node load code (the agent's own list)", () => {
  for (const unit of ["mvm-guest-agent.service", "mvm-bridge.service"]) {
    const unset = (loadUnit(unit).Service?.UnsetEnvironment ?? []).flatMap((v) => v.split(/\s+/));
    for (const k of CODE_LOADING_ENV) expect({ unit, unset: unset.includes(k) }).toEqual({ unit, unset: true });
  }
});

describe("the units' command lines", () => {
  /** Every --flag in argv, without its value. */
  const flags = (argv: string[]) => argv.filter((a) => a.startsWith("--")).map((a) => a.split("=")[0]!);
  const help = (argv: string[]) => {
    const p = Bun.spawnSync([process.execPath, ...argv, "--help"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    expect(p.exitCode).toBe(0);
    return p.stdout.toString();
  };

  test("the agent's ExecStart: the single binary, flags the agent has", () => {
    const argv = execStart(loadUnit("mvm-guest-agent.service"));
    expect(argv[0]).toBe("/usr/local/bin/mvm-guest-agent");
    const h = help(["agent/bin.ts"]);
    for (const f of flags(argv)) expect(h).toContain(`  ${f} `);
    expect(setting(loadUnit("mvm-guest-agent.service"), "Service", "Type")).toBe("notify");
  });

  test("the bridge's ExecStart, alone and with network.conf: serve's own flags, the token in the state directory", () => {
    // serve's own flags, and mvmctl's global ones (--vms, --timeout), which serve takes too
    const h = help(["host/cli/bin.ts", "serve"]) + help(["host/cli/bin.ts"]);
    for (const dropIns of [[], ["network.conf"]]) {
      const u = loadUnit("mvm-bridge.service", dropIns);
      const argv = execStart(u);
      expect(argv.slice(0, 2)).toEqual(["/usr/local/bin/mvmctl", "serve"]);
      for (const f of flags(argv)) expect(h).toContain(`  ${f} `);
      expect(argv[argv.indexOf("--token-file") + 1]).toBe(`/var/lib/${setting(u, "Service", "StateDirectory")}/bridge-token`);
      expect(argv).not.toContain("--token");
      expect(argv).not.toContain("--no-auth");
    }
    expect(execStart(loadUnit("mvm-bridge.service"))).toContain("127.0.0.1");
    const net = execStart(loadUnit("mvm-bridge.service", ["network.conf"]));
    expect(net[net.indexOf("--host") + 1]).not.toMatch(/^127\./);
    expect(net).toContain("--allow-host");
  });
});
