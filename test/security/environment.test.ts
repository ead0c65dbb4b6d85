// Attack: environment variables that make Bun or Node load code (issue 15 follow-up). A production binary
// runs a file given through BUN_OPTIONS (--preload), BUN_BE_BUN=1 turns it into the bun CLI, and every
// command the agent ran inherited them. Against the real production binary from the test binary cache.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CODE_LOADING_ENV } from "../../agent/command.ts";
import { tempDir, waitFor } from "../../agent/testing.ts";
import { agentBinaries, spawnAgent } from "../support/index.ts";

let prod = "";
const d = tempDir("mvm-env-");
beforeAll(async () => {
  prod = (await agentBinaries()).prod;
}, 600_000);
afterAll(() => d.cleanup());

test("BUN_OPTIONS, BUN_INSPECT, NODE_OPTIONS ...: the prod agent warns at start, and no command inherits them", async () => {
  const ran = join(d.path, "preloaded");
  const preload = join(d.path, "preload.js");
  writeFileSync(preload, `require("node:fs").writeFileSync(${JSON.stringify(ran)}, "yes");\n`);
  const envOut = join(d.path, "env.txt");
  const knobs: Record<string, string> = {
    BUN_OPTIONS: `--preload ${preload}`,
    NODE_OPTIONS: `--require ${preload}`,
    BUN_INSPECT_CONNECT_TO: "unix:///nonexistent/debugger.sock",
  };
  const a = await spawnAgent({
    bin: prod,
    env: { ...knobs, ENV_OUT: envOut, KEEP_ME: "kept" },
    files: { "integrations.d/env.json": { name: "env", health_cmd: 'env > "$ENV_OUT"' } },
    args: ["--log-level", "warn"],
  });
  try {
    // What the unit's UnsetEnvironment= is for: Bun itself honours BUN_OPTIONS in a compiled binary.
    expect(readFileSync(ran, "utf8")).toBe("yes");
    await waitFor(() => existsSync(envOut) && readFileSync(envOut, "utf8").includes("KEEP_ME="), 30_000, "the health command's environment");
    const vars = readFileSync(envOut, "utf8").split("\n").map((l) => l.slice(0, l.indexOf("=")));
    expect(vars).toContain("KEEP_ME");
    expect(vars).toContain("MVM_AGENT_COMMAND");
    for (const k of CODE_LOADING_ENV) expect(vars).not.toContain(k);
    const warn = a.console().split("\n").filter((l) => l.includes("load code"));
    expect(warn).toHaveLength(1);
    for (const k of Object.keys(knobs)) expect(warn[0]).toContain(k);
    expect(warn[0]).not.toContain(preload); // names only, never values
  } finally {
    await a.stop();
  }
}, 120_000);

test("BUN_BE_BUN=1 makes the prod binary the bun CLI (why the unit unsets it)", () => {
  const p = Bun.spawnSync([prod, "--version"], { env: { ...process.env, BUN_BE_BUN: "1" }, stdout: "pipe", stderr: "pipe" });
  expect(p.stdout.toString().trim()).toBe(Bun.version);
  const q = Bun.spawnSync([prod, "--version"], { env: { ...process.env, BUN_BE_BUN: undefined }, stdout: "pipe", stderr: "pipe" });
  expect(q.stdout.toString()).toContain("mvm-guest-agent");
});
