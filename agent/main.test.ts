// Tests of the command line: flags, --help, schema, and the agent as a real child process (signals).

import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { join } from "node:path";
import { flagHelp, parseFlags, FlagError } from "./flags.ts";
import { buildAgent, CORE_FLAGS, main } from "./main.ts";
import { memoryLogger, silentLogger } from "./log.ts";
import type { PluginModule } from "./plugin.ts";
import { spawnAgent } from "../test/support/index.ts";
import { tempDir, waitFor } from "./testing.ts";

const root = join(import.meta.dir, "..");

async function runMain(argv: string[], modules: PluginModule[] = []) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(modules, { argv, stdout: (t) => out.push(t), stderr: (t) => err.push(t), build: "dev" });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("flags", () => {
  test("values, defaults, repeats, --no-x, --x=y, and positionals", () => {
    const { values, rest } = parseFlags(["--listen", "unix:/a", "--listen=vsock:5", "--max-connections", "9", "--help", "x"], CORE_FLAGS);
    expect(values.listen).toEqual(["unix:/a", "vsock:5"]);
    expect(values["max-connections"]).toBe(9);
    expect(values["config-dir"]).toBe("/etc/mvm");
    expect(values.help).toBe(true);
    expect(rest).toEqual(["x"]);
  });
  test("clear errors name the flag", () => {
    expect(() => parseFlags(["--max-connections", "lots"], CORE_FLAGS)).toThrow('--max-connections: expected a number, got "lots"');
    expect(() => parseFlags(["--nope"], CORE_FLAGS)).toThrow("unknown flag --nope");
    expect(() => parseFlags(["--config-dir"], CORE_FLAGS)).toThrow(FlagError);
  });
  test("a --no-x boolean flag of a module", () => {
    const specs = { "no-exec": { type: "boolean" as const, description: "turn exec off" } };
    expect(parseFlags(["--no-exec"], specs).values["no-exec"]).toBe(true);
    expect(flagHelp(specs)).toContain("--no-exec");
  });
});

describe("main", () => {
  test("--help lists flags, plugins and sub-commands", async () => {
    const mod: PluginModule = {
      name: "m",
      flags: { "m-level": { type: "number", description: "how much", default: 3 } },
      schemas: { thing: () => ({ type: "object" }) },
      commands: { tool: { description: "does a thing", run: async () => 0 } },
      create: () => null,
    };
    const r = await runMain(["--help"], [mod]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("--m-level N");
    expect(r.out).toContain("schema NAME");
    expect(r.out).toContain("thing");
    expect(r.out).toContain("tool");
  });
  test("bad flags exit 2 with the reason", async () => {
    expect(await runMain(["--log-format", "xml"])).toMatchObject({ code: 2, err: expect.stringContaining("--log-format") });
    expect(await runMain(["--listen", "tcp:1"])).toMatchObject({ code: 2, err: expect.stringContaining("expected unix:PATH") });
    expect(await runMain(["--max-frame-bytes", "1.5"])).toMatchObject({ code: 2, err: expect.stringContaining("whole number") });
    expect(await runMain(["stray"])).toMatchObject({ code: 2, err: expect.stringContaining("unexpected argument") });
  });
  test("a mistyped flag, sub-command or schema name is answered with the nearest one", async () => {
    const mod: PluginModule = { name: "m", schemas: { integration: () => ({}) }, commands: { config: { description: "d", run: async () => 0 } }, create: () => null };
    expect(await runMain(["--config-dri", "/x"], [mod])).toMatchObject({ code: 2, err: "mvm-guest-agent: unknown flag --config-dri (did you mean --config-dir?) (see --help)" });
    expect(await runMain(["confg", "check"], [mod])).toMatchObject({ code: 2, err: 'mvm-guest-agent: unexpected argument "confg" (did you mean config?)' });
    expect(await runMain(["schema", "integraton"], [mod])).toMatchObject({ code: 2, err: expect.stringContaining('no schema named "integraton" (did you mean integration?)') });
    // Object.prototype's names are neither sub-commands nor schemas
    expect((await runMain(["constructor"], [mod])).code).toBe(2);
    expect((await runMain(["schema", "toString"], [mod])).code).toBe(2);
  });
  test("schema NAME prints a module's JSON Schema; an unknown name lists the known ones", async () => {
    const mod: PluginModule = { name: "m", schemas: { thing: () => ({ type: "object" }) }, create: () => null };
    expect(await runMain(["schema", "thing"], [mod])).toMatchObject({ code: 0, out: '{\n  "type": "object"\n}' });
    expect(await runMain(["schema", "nope"], [mod])).toMatchObject({ code: 2, err: expect.stringContaining("thing") });
  });
  test("schema agent: the whole agent.json from the modules' sections, strict with x- keys allowed", async () => {
    const mod: PluginModule = { name: "m", configSections: { m: z.object({ level: z.number().default(1) }) }, configKeys: ["legacy_level"], create: () => null };
    const r = await runMain(["schema", "agent"], [mod]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s).toMatchObject({ type: "object", additionalProperties: false, patternProperties: { "^x-": {} } });
    expect(Object.keys(s.properties).sort()).toEqual(["legacy_level", "m", "port"]);
    expect(s.properties.m).toMatchObject({ type: "object", additionalProperties: false, patternProperties: { "^x-": {} }, properties: { level: { type: "number" } } });
  });

  test("agent.json with a key no module declares is skipped at start: defaults, one line, status.config_skipped", async () => {
    const d = tempDir();
    const mod: PluginModule = { name: "m", configSections: { m: z.object({ level: z.number().default(1) }) }, create: () => ({ name: "m" }) };
    writeFileSync(join(d.path, "agent.json"), JSON.stringify({ m: { levle: 2 }, "x-note": "mine" }));
    const values = parseFlags(["--config-dir", d.path], CORE_FLAGS).values;
    const log = memoryLogger();
    const { agent } = buildAgent([mod], values, "dev", log);
    expect(agent.config.file).toEqual({});
    expect(log.lines.join("\n")).toContain(`${join(d.path, "agent.json")}: skipped: field m.levle: unknown key (did you mean m.level?)`);
    await agent.start();
    const st = (await agent.call("status")) as { config_skipped: unknown[] };
    expect(st.config_skipped).toEqual([{ file: join(d.path, "agent.json"), message: expect.stringContaining("m.levle") }]);
    // Fixed, and read again as a SIGHUP would: the x- key is dropped, the section is there, the book is clear.
    writeFileSync(join(d.path, "agent.json"), JSON.stringify({ m: { level: 2, "x-why": "tuned" }, "x-note": "mine" }));
    expect(agent.config.readFile!()).toEqual({ m: { level: 2 } });
    expect(((await agent.call("status")) as { config_skipped: unknown[] }).config_skipped).toEqual([]);
    await agent.stop();
    d.cleanup();
  });

  test("a module's sub-command runs with the remaining args", async () => {
    let got: string[] = [];
    const mod: PluginModule = { name: "m", commands: { tool: { description: "d", run: async (a) => ((got = a), 7) } }, create: () => null };
    expect((await runMain(["tool", "a", "--b"], [mod])).code).toBe(7);
    expect(got).toEqual(["a", "--b"]);
  });
});

describe("the agent as a process", () => {
  test("serves a unix socket, reloads on SIGHUP, exits 0 on SIGTERM and removes its socket", async () => {
    const a = await spawnAgent();
    await waitFor(() => a.console().includes("ready"), 20_000, "agent ready");
    const c = await a.connect();
    expect(await c.request({ type: "hello", id: 1 })).toMatchObject({ ok: true, result: { build: "dev", agent: "mvm-guest-agent" } });
    c.close();
    process.kill(a.pid, "SIGHUP");
    await waitFor(() => a.console().includes("reload requested"), 10_000, "reload");
    process.kill(a.pid, "SIGTERM");
    expect(await a.exited).toBe(0);
    expect(a.console()).toContain("SIGTERM: stopping");
    expect(existsSync(a.socket)).toBe(false);
    await a.stop();
  });

  test("a listen address that cannot be served exits 1 with the cause", async () => {
    const d = tempDir();
    const proc = Bun.spawn([process.execPath, join(root, "agent/bin.ts"), "--listen", `unix:${d.path}/no/such/dir/a.sock`, "--config-dir", d.path], {
      stderr: "pipe",
    });
    const err = await new Response(proc.stderr as ReadableStream).text();
    expect(await proc.exited).toBe(1);
    expect(err).toContain("cannot start");
    d.cleanup();
  });
});

describe("dev-only modules in a prod build", () => {
  const devOnly: PluginModule = {
    name: "debug",
    devOnly: true,
    commands: { shell: { description: "a debug shell", run: async () => 42 } },
    create: () => ({ name: "debug" }),
  };
  const io = (build: "prod" | "dev") => {
    const err: string[] = [];
    return { err, io: { argv: ["shell"], stdout: () => {}, stderr: (t: string) => err.push(t), build } };
  };

  test("main refuses to start one, naming it, before its sub-commands can run", async () => {
    const p = io("prod");
    expect(await main([devOnly], p.io)).toBe(2);
    expect(p.err.join("\n")).toContain("dev-only module debug in a prod build: not started");
    const d = io("dev");
    expect(await main([devOnly], d.io)).toBe(42);
  });

  test("buildAgent (custom mains) refuses it too; a dev build builds it", () => {
    const values = parseFlags(["--config-dir", "/nonexistent"], CORE_FLAGS).values;
    expect(() => buildAgent([devOnly], values, "prod", silentLogger)).toThrow("dev-only module debug in a prod build");
    expect(buildAgent([devOnly], values, "dev", silentLogger).agent.plugins.map((p) => p.name)).toContain("debug");
  });
});
