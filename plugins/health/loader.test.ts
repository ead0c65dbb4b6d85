// integrations.d loading: each bad-file case gives its one line and the other files still load.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../agent/main.ts";
import { tempDir } from "../../agent/testing.ts";
import { healthFixture, type HealthFixture } from "./testkit.ts";
import { healthModule } from "./index.ts";
import { loadIntegrations, planReload } from "./loader.ts";
import { IntegrationFile } from "./schemas.ts";
import type { IntegrationSpec } from "./service.ts";

let fx: HealthFixture | null = null;
afterEach(async () => {
  await fx?.close();
  fx = null;
});

const good = { name: "good", health_cmd: "true" };

describe("bad files", () => {
  const cases: [string, unknown, RegExp][] = [
    ["not JSON", "{ name: oops", /^bad\.json: skipped: not valid JSON: /],
    ["not an object", "[1, 2]", /^bad\.json: skipped: must hold one JSON object$/],
    ["missing name", { health_cmd: "true" }, /^bad\.json: skipped: field name: /],
    ["bad name", { name: "no spaces allowed" }, /^bad\.json: skipped: field name: must be 1 to 64 characters from A-Z a-z 0-9 \. _ -$/],
    ["interval too small", { name: "x", health_cmd: "true", health_interval_secs: 0 }, /^bad\.json: skipped: field health_interval_secs: Too small/],
    ["timeout of the wrong type", { name: "x", health_cmd: "true", health_timeout_secs: "5" }, /^bad\.json: skipped: field health_timeout_secs: .*expected number/],
    ["empty command", { name: "x", health_cmd: "  " }, /^bad\.json: skipped: field health_cmd: must not be empty$/],
    ["env not strings", { name: "x", env: { A: 1 } }, /^bad\.json: skipped: field env\.A: /],
    ["threshold below 1", { name: "x", failure_threshold: 0 }, /^bad\.json: skipped: field failure_threshold: Too small/],
    ["duplicate name", { name: "good" }, /^bad\.json: skipped: field name: "good" is already defined by .*\/a-good\.json$/],
    ["a misspelled key", { name: "x", helth_cmd: "true" }, /^bad\.json: skipped: field helth_cmd: unknown key \(did you mean health_cmd\?\) \(keys starting with x- are left to users\)$/],
    ["Docker's keys", { name: "x", test: "curl -f localhost", interval: 5 }, /^bad\.json: skipped: field test: unknown key \(did you mean health_cmd\?\); field interval: unknown key \(did you mean health_interval_secs\?\)/],
    ["fractional seconds", { name: "x", health_cmd: "true", health_timeout_secs: 2.5 }, /^bad\.json: skipped: field health_timeout_secs: must be whole seconds$/],
  ];
  for (const [what, content, line] of cases) {
    test(`${what}: one line naming the file and the field; the rest load`, async () => {
      fx = await healthFixture({ files: { "a-good.json": good, "bad.json": content, "c.json": { name: "other" } } });
      const h = await fx.health();
      expect(h.integrations.map((i) => i.name)).toEqual(["good", "other"]);
      const problems = fx.lines().filter((l) => l.includes(": skipped: "));
      expect(problems.length).toBe(1);
      expect(problems[0]!.replace(/^\S*\/integrations\.d\//, "")).toMatch(line);
      expect(fx.lines().some((l) => l.startsWith("loaded 2 integration(s)") && l.endsWith("(1 file(s) skipped)"))).toBe(true);
      // Seen from the host: the answer lists the file and why, and a config error is not ready.
      expect(h.skipped_files).toEqual([{ file: join(fx.dir, "integrations.d/bad.json"), message: expect.any(String) }]);
      expect(h.ready).toBe(false);
      expect(await fx.agent.call("status")).toMatchObject({ plugins: { health: { ready: false, skipped_files: 1 } } });
    });
  }

  test("a misspelled key skips the file: the integration is not loaded, not 'unchecked' and ready", async () => {
    fx = await healthFixture({ files: { "a.json": { name: "a", helth_cmd: "exit 1" } } });
    const h = await fx.health();
    expect(h.integrations).toEqual([]);
    expect(h.ready).toBe(false);
    expect(h.skipped_files![0]!.message).toStartWith("field helth_cmd: unknown key (did you mean health_cmd?)");
    // The agent's status lists the same file with the same words (one book).
    const st = (await fx.agent.call("status")) as { config_skipped: unknown[] };
    expect(st.config_skipped).toEqual(h.skipped_files!);
    // Fixed: the file loads, the host sees no skipped file, and the service is judged on its own.
    fx.write("a.json", { name: "a", health_cmd: "true", "x-owner": "team-a", "x-links": { runbook: "https://example/a" } });
    await fx.agent.reload();
    await fx.tick(0);
    expect(await fx.health()).toMatchObject({ ready: true, skipped_files: [], integrations: [{ name: "a", status: "healthy" }] });
    expect(((await fx.agent.call("status")) as { config_skipped: unknown[] }).config_skipped).toEqual([]);
  });

  test("150 bad files: the answer lists the first 100 (it must stay small enough to send), the status counts all", async () => {
    const files = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`b${String(i).padStart(3, "0")}.json`, { name: `x${i}`, bogus: i }]));
    fx = await healthFixture({ files });
    const h = await fx.health();
    expect(h.skipped_files!.length).toBe(100);
    expect(h.ready).toBe(false);
    expect(await fx.agent.call("status")).toMatchObject({ plugins: { health: { skipped_files: 150 } } });
    expect(((await fx.agent.call("status")) as { config_skipped: unknown[] }).config_skipped.length).toBe(100);
  });

  test("a file of thousands of unknown keys: one short line, the first five named", async () => {
    const keys = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}\u001b[31m`, i]));
    fx = await healthFixture({ files: { "a.json": { name: "a", ...keys } } });
    const h = await fx.health();
    const msg = h.skipped_files![0]!.message;
    expect(msg.length).toBeLessThan(600);
    expect(msg).toContain("4995 more unknown key(s)");
    // The console line escapes what the file holds.
    expect(fx.log.lines.join("\n")).not.toContain("\u001b");
  });

  test("only *.json files are read, in name order", async () => {
    fx = await healthFixture({
      files: { "b.json": { name: "first-by-b" }, "a.json": { name: "zzz" }, "notes.txt": "not json at all", "c.json.bak": "{" },
    });
    expect((await fx.health()).integrations.map((i) => i.name)).toEqual(["zzz", "first-by-b"]);
    expect(fx.lines().filter((l) => l.includes(": skipped: "))).toEqual([]);
  });

  test("a missing directory is zero integrations, said once", async () => {
    fx = await healthFixture({ noDir: true });
    await fx.agent.reload();
    await fx.agent.reload();
    const h = await fx.health();
    expect(h).toEqual({ integrations: [], ready: true, skipped_files: [] });
    expect(fx.lines().filter((l) => l.includes("no such directory"))).toEqual([`${join(fx.dir, "integrations.d")}: no such directory; no integrations`]);
  });
});

describe("the file format", () => {
  test("defaults are applied and the output is an IntegrationSpec", () => {
    const spec: IntegrationSpec = IntegrationFile.parse({ name: "web" });
    expect(spec).toEqual({
      name: "web",
      health_interval_secs: 30,
      health_timeout_secs: 10,
      startup_grace_secs: 0,
      failure_threshold: 3,
      success_threshold: 1,
      checkpoint_timeout_secs: 30,
      critical: false,
    });
  });

  test("null optional fields (as the original agent wrote them) mean absent", () => {
    const d = tempDir();
    mkdirSync(join(d.path, "i"));
    writeFileSync(join(d.path, "i", "a.json"), JSON.stringify({ name: "a", health_cmd: null, checkpoint_cmd: null, cwd: null }));
    const r = loadIntegrations(join(d.path, "i"));
    d.cleanup();
    expect(r.skipped).toEqual([]);
    expect(r.loaded.get("a")?.spec.health_cmd).toBeUndefined();
  });

  test("`mvm-guest-agent schema integration` prints the JSON Schema of the file", async () => {
    let out = "";
    const code = await main([healthModule], { argv: ["schema", "integration"], stdout: (t) => (out += t), stderr: () => {}, build: "dev" });
    expect(code).toBe(0);
    const schema = JSON.parse(out);
    expect(schema.type).toBe("object");
    expect(schema.required).toEqual(["name"]);
    expect(Object.keys(schema.properties)).toContain("startup_grace_secs");
    expect(schema.properties.health_interval_secs).toMatchObject({ type: "integer", minimum: 1, maximum: 86400, default: 30 });
    expect(schema.properties.failure_threshold).toMatchObject({ default: 3 });
    // Strict as the loader: nothing it does not name, except x- keys.
    expect(schema.additionalProperties).toBe(false);
    expect(schema.patternProperties).toEqual({ "^x-": {} });
  });
});

describe("planReload", () => {
  const spec = (name: string, extra: Partial<IntegrationSpec> = {}): IntegrationSpec => ({ ...IntegrationFile.parse({ name }), ...extra });
  test("whitespace and key order are no change; a field is", () => {
    const cur = new Map([
      ["a", { spec: spec("a", { health_cmd: "true" }), file: "/d/a.json" }],
      ["b", { spec: spec("b"), file: "/d/b.json" }],
      ["gone", { spec: spec("gone"), file: "/d/gone.json" }],
      ["broken", { spec: spec("broken"), file: "/d/broken.json" }],
    ]);
    const next = {
      loaded: new Map([
        ["a", { spec: { ...spec("a"), health_cmd: "true" }, file: "/d/a.json" }],
        ["b", { spec: spec("b", { health_interval_secs: 5 }), file: "/d/b.json" }],
        ["new", { spec: spec("new"), file: "/d/new.json" }],
      ]),
      skipped: [{ file: "/d/broken.json", message: "not valid JSON" }],
      missing: false,
    };
    const plan = planReload(cur, next);
    expect(plan.changed.map((c) => c.spec.name)).toEqual(["b"]);
    expect(plan.added.map((c) => c.spec.name)).toEqual(["new"]);
    expect(plan.removed).toEqual(["gone"]);
    expect(plan.kept).toEqual([{ name: "broken", file: "/d/broken.json" }]);
  });
});

describe("the module", () => {
  test("--max-concurrent-checks is checked; absent means the default", () => {
    const config = { configDir: "/nonexistent", build: "dev" as const, version: "0", maxFrameBytes: 1 << 20, file: {} };
    expect(() => healthModule.create({ flags: { "max-concurrent-checks": 0 }, config })).toThrow(
      "--max-concurrent-checks: expected a whole number from 1 to 1024, got 0",
    );
    expect(healthModule.create({ flags: {}, config })?.name).toBe("health");
    expect(healthModule.flags?.["max-concurrent-checks"]?.default).toBe(8);
  });
});
