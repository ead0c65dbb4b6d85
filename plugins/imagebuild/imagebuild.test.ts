// Tests of `config render` / `config check` and of the Nix function, byte for byte against the CLI.

import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../../agent/log.ts";
import { agentFileSpec, dropinFormats } from "../../agent/main.ts";
import { tempDir } from "../../agent/testing.ts";
import { builtinModules } from "../index.ts";
import { configCommand } from "./cli.ts";
import { nixJson, renderSpec } from "./spec.ts";

/** The formats of the bundled modules, as the composition root hands them to the sub-command. */
const formats = dropinFormats(builtinModules());

const SPEC = {
  healthChecks: {
    "my-app": {
      healthCmd: "curl -sf http://localhost:8080/health",
      healthIntervalSecs: 10,
      startupGraceSecs: 120,
      checkpointCmd: "my-app flush",
      restoreCmd: null,
      critical: true,
      env: { Z: "1", A: "two words" },
    },
    db: { health_cmd: "pg_isready", failure_threshold: 3, "x-owner": "team-db" },
    sidecar: {},
  },
  probes: {
    "disk-usage": { command: "df --output=pcent / | tail -1", unit: "percent", intervalSecs: 60 },
    load: { cmd: "cut -d' ' -f1 /proc/loadavg", outputFormat: "number" },
  },
};

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await configCommand(args, { dropins: formats, agentFile: agentFileSpec(builtinModules()), stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("renderSpec", () => {
  test("camelCase and snake_case in, the agent's file keys out, compact with sorted keys", () => {
    const { files, problems } = renderSpec(SPEC, formats);
    expect(problems).toEqual([]);
    const byPath = Object.fromEntries(files.map((f) => [f.path, f.text]));
    expect(Object.keys(byPath).sort()).toEqual([
      "integrations.d/db.json",
      "integrations.d/my-app.json",
      "integrations.d/sidecar.json",
      "probes.d/disk-usage.json",
      "probes.d/load.json",
    ]);
    expect(byPath["integrations.d/my-app.json"]).toBe(
      '{"checkpoint_cmd":"my-app flush","critical":true,"env":{"A":"two words","Z":"1"},"health_cmd":"curl -sf http://localhost:8080/health","health_interval_secs":10,"name":"my-app","startup_grace_secs":120}',
    );
    expect(byPath["probes.d/load.json"]).toBe('{"command":"cut -d\' \' -f1 /proc/loadavg","name":"load","output_format":"number"}');
    // x- keys are the users' own: into the file as they are, and the agent loads the file.
    expect(byPath["integrations.d/db.json"]).toBe('{"failure_threshold":3,"health_cmd":"pg_isready","name":"db","x-owner":"team-db"}');
  });

  test("errors name the entry and the field; nothing renders when any entry is bad", () => {
    const { files, problems } = renderSpec(
      {
        healthChecks: { ok: { healthCmd: "true" }, bad: { healthIntervalSecs: 0 }, typo: { healthCommand: "x" } },
        probes: { "no-cmd": { unit: "x" }, "bad name!": { command: "true" } },
      },
      formats,
    );
    expect(files).toEqual([]);
    const text = problems.map((p) => `${p.entry}: ${p.message}`).join("\n");
    expect(text).toContain("healthChecks.bad: field health_interval_secs");
    expect(text).toContain("healthChecks.typo: field healthCommand: unknown key (did you mean healthCmd?");
    expect(text).toContain("probes.no-cmd: field command");
    expect(text).toContain("probes.bad name!: field name");
  });

  test("a spec with other top-level keys is refused", () => {
    expect(renderSpec({ healthcheck: {} }, formats).problems[0]!.message).toContain("healthcheck");
  });

  test("entries of a format no module of the build reads are refused, naming it", () => {
    const { files, problems } = renderSpec(SPEC, { integration: formats.integration! });
    expect(files).toEqual([]);
    expect(problems).toEqual([{ entry: "probes", message: "no module of this build reads probe files" }]);
  });

  test("nixJson sorts keys at every depth", () => {
    expect(nixJson({ b: [{ d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[{"c":2,"d":1}]}');
  });
});

describe("config render / check", () => {
  test("render writes files the agent loads; check says so and exits 0", async () => {
    const d = tempDir();
    writeFileSync(join(d.path, "spec.json"), JSON.stringify(SPEC));
    const out = join(d.path, "root/etc/mvm");
    const r = await run(["render", "--from", join(d.path, "spec.json"), "--out", out]);
    expect(r).toMatchObject({ code: 0 });
    expect(r.out).toContain("5 files");
    expect(readdirSync(out).sort()).toEqual(["integrations.d", "probes.d"]);
    const loaded = formats.integration!.load(join(out, "integrations.d"), silentLogger);
    expect(loaded.loaded.map((l) => l.name).sort()).toEqual(["db", "my-app", "sidecar"]);
    expect(loaded.loaded.find((l) => l.name === "my-app")!.value).toMatchObject({ critical: true, startup_grace_secs: 120, health_timeout_secs: 10 });
    const c = await run(["check", out]);
    expect(c.code).toBe(0);
    expect(c.out).toContain("3 integration(s), 2 probe(s) would load; 0 file(s) would be skipped");
    d.cleanup();
  });

  test("an invalid spec writes nothing at all", async () => {
    const d = tempDir();
    writeFileSync(join(d.path, "spec.json"), JSON.stringify({ healthChecks: { good: { healthCmd: "true" }, bad: { failureThreshold: -1 } } }));
    const out = join(d.path, "etc-mvm");
    const r = await run(["render", "--from", join(d.path, "spec.json"), "--out", out]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("healthChecks.bad: field failure_threshold");
    expect(r.err).toContain("nothing written");
    expect(existsSync(join(out, "integrations.d"))).toBe(false);
    d.cleanup();
  });

  test("check lists what would be skipped, with reasons, and exits 1", async () => {
    const d = tempDir();
    mkdirSync(join(d.path, "integrations.d"));
    mkdirSync(join(d.path, "probes.d"));
    writeFileSync(join(d.path, "integrations.d/a.json"), '{"name":"a","health_cmd":"true","x-team":"web"}');
    writeFileSync(join(d.path, "integrations.d/b.json"), "{not json");
    writeFileSync(join(d.path, "integrations.d/c.json"), '{"name":"a"}');
    writeFileSync(join(d.path, "integrations.d/d.json"), '{"name":"d","helth_cmd":"true"}');
    writeFileSync(join(d.path, "integrations.d/e.json"), '{"name":"e","test":"true","interval":5}');
    writeFileSync(join(d.path, "probes.d/p.json"), '{"name":"p","interval_secs":0,"command":"true"}');
    writeFileSync(join(d.path, "probes.d/q.json"), '{"name":"q","command":"true","interval_secs":1.5}');
    const c = await run(["check", d.path]);
    expect(c.code).toBe(1);
    expect(c.out).toContain("load " + join(d.path, "integrations.d/a.json"));
    expect(c.out).toMatch(/skip .*b\.json: not valid JSON/);
    expect(c.out).toMatch(/skip .*c\.json: field name: "a" is already defined/);
    expect(c.out).toContain(`skip ${join(d.path, "integrations.d/d.json")}: field helth_cmd: unknown key (did you mean health_cmd?) (keys starting with x- are left to users)`);
    // Docker's names: no key of ours is near, so the error names the one they stand for.
    expect(c.out).toContain("field test: unknown key (did you mean health_cmd?); field interval: unknown key (did you mean health_interval_secs?)");
    expect(c.out).toMatch(/skip .*p\.json: field interval_secs/);
    expect(c.out).toMatch(/skip .*q\.json: field interval_secs: must be whole seconds/);
    expect(c.out).toContain("1 integration(s), 0 probe(s) would load; 6 file(s) would be skipped");
    d.cleanup();
  });

  test("check reads agent.json as the agent does: an unknown key, even in a section, is a skipped file", async () => {
    const d = tempDir();
    writeFileSync(join(d.path, "agent.json"), JSON.stringify({ worker: { busy_treshold: 0.5 }, "x-note": "ours", port: 5252 }));
    const c = await run(["check", d.path]);
    expect(c.code).toBe(1);
    expect(c.out).toContain(`skip ${join(d.path, "agent.json")}: field worker.busy_treshold: unknown key (did you mean worker.busy_threshold?)`);
    writeFileSync(join(d.path, "agent.json"), JSON.stringify({ worker: { busy_threshold: 0.5, "x-why": "batch" }, fsdiff: { exclude: ["/tmp/**"] }, "x-note": "ours", port: 5252 }));
    expect(await run(["check", d.path])).toMatchObject({ code: 0, out: expect.stringContaining("0 file(s) would be skipped") });
    writeFileSync(join(d.path, "agent.json"), JSON.stringify({ workers: {} }));
    expect((await run(["check", d.path])).out).toContain("field workers: unknown key (did you mean worker?)");
    d.cleanup();
  });

  test("usage errors exit 2 with the usage", async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(["render", "--from"])).code).toBe(2);
    expect((await run(["check"])).code).toBe(2);
    expect(await run(["--help"])).toMatchObject({ code: 0, out: expect.stringContaining("config render") });
  });
});

describe("nix/mvm-guest-config.nix", () => {
  const nix = Bun.which("nix-instantiate");
  test.skipIf(!nix)("evaluates to exactly what the CLI renders for the same spec", () => {
    const d = tempDir();
    const toNix = (v: unknown): string => {
      if (v === null) return "null";
      if (typeof v === "string") return JSON.stringify(v).replace(/\$\{/g, "\\${");
      if (typeof v === "number" || typeof v === "boolean") return String(v);
      return `{ ${Object.entries(v as object).map(([k, x]) => `${JSON.stringify(k)} = ${toNix(x)};`).join(" ")} }`;
    };
    const expr = `import ${join(import.meta.dir, "../../nix/mvm-guest-config.nix")} ${toNix(SPEC)}`;
    writeFileSync(join(d.path, "t.nix"), expr);
    const p = Bun.spawnSync([nix!, "--eval", "--strict", "--json", join(d.path, "t.nix")], { stdout: "pipe", stderr: "pipe" });
    expect(p.exitCode).toBe(0);
    const fromNix = JSON.parse(p.stdout.toString()) as Record<string, string>;
    const fromCli = Object.fromEntries(renderSpec(SPEC, formats).files.map((f) => [f.path, f.text]));
    expect(fromNix).toEqual(fromCli);
    d.cleanup();
  });
  if (!nix) console.warn("SKIPPED: nix-instantiate is not installed (Debian package nix-bin); the Nix function was not checked");
});
