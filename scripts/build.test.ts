// Builds production and dev binaries with the example custom plugin and a dev-only --plugin, and checks
// what is (and is not) inside each.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEV_MARKER } from "../plugins/dev-marker/index.ts";
import { tempDir, type RawClient } from "../agent/testing.ts";
import { spawnAgent, type SpawnedAgent } from "../test/support/index.ts";
import { build, inspectPlugins } from "./build.ts";
import { DEBUG_MARKER } from "./fixtures/dev-only-plugin.ts";

const root = join(import.meta.dir, "..");
const custom = join(root, "examples/custom-plugin/index.ts");
const devOnly = join(root, "scripts/fixtures/dev-only-plugin.ts");
const runtime = join(root, "scripts/fixtures/runtime-plugin.ts");

describe("production and dev builds with a custom plugin and a dev-only one", () => {
  const d = tempDir("mvm-build-");
  let prodBin = "";
  let devBin = "";
  const said: string[] = [];
  const agents: SpawnedAgent[] = [];
  let prod: RawClient;
  let dev: RawClient;

  /** These binaries hold extra plugins: built here, not taken from the shared cache of plain ones. */
  async function start(bin: string, args: string[] = []): Promise<RawClient> {
    const a = await spawnAgent({ bin, args: ["--acme-greeting", "hi", ...args] });
    agents.push(a);
    return a.connect();
  }

  beforeAll(async () => {
    [prodBin, devBin] = await build({ out: d.path, flavors: ["prod", "dev"], plugins: [custom, devOnly] }, (l) => said.push(l));
    prod = await start(prodBin!);
    dev = await start(devBin!);
  }, 180_000);
  afterAll(async () => {
    prod?.close();
    dev?.close();
    await Promise.all(agents.map((a) => a.stop()));
    d.cleanup();
  });

  test("the build reads devOnly from --plugin files and says what it left out of prod", async () => {
    expect((await inspectPlugins([custom, devOnly])).map((f) => [f.name, f.devOnly])).toEqual([
      ["acme", false],
      ["debug", true],
    ]);
    expect(said).toEqual([expect.stringMatching(/^prod: dev-only modules left out: exec \(bundled\), dev-marker \(bundled\), debug \(--plugin .*dev-only-plugin\.ts\)$/)]);
  });

  test("the production file holds no dev-only module's code; the dev file holds both", () => {
    const p = readFileSync(prodBin);
    expect(p.includes(Buffer.from(DEV_MARKER))).toBe(false);
    expect(p.includes(Buffer.from(DEBUG_MARKER))).toBe(false);
    expect(p.includes(Buffer.from("acme.greet"))).toBe(true);
    const v = readFileSync(devBin);
    expect(v.includes(Buffer.from(DEBUG_MARKER))).toBe(true);
    expect(v.includes(Buffer.from(DEV_MARKER))).toBe(true);
  });

  test("prod: hello lists the custom plugin, not the dev-only ones", async () => {
    const h = await prod.request({ type: "hello", id: 1 });
    expect(h.result.build).toBe("prod");
    expect(h.result.plugins).toContain("acme");
    expect(h.result.plugins).not.toContain("dev-marker");
    expect(h.result.plugins).not.toContain("debug");
    expect(h.result.requests).not.toContain("dev.marker");
    expect(h.result.requests).not.toContain("debug.run");
  });

  test("prod: the dev-only requests answer E_UNKNOWN_REQUEST; the custom one works with its flag", async () => {
    expect(await prod.request({ type: "dev.marker", id: 2 })).toMatchObject({ ok: false, error: { code: "E_UNKNOWN_REQUEST" } });
    expect(await prod.request({ type: "debug.run", id: 3 })).toMatchObject({ ok: false, error: { code: "E_UNKNOWN_REQUEST" } });
    expect(await prod.request({ type: "acme.greet", id: 4, params: { who: "ops" } })).toMatchObject({ ok: true, result: { text: "hi, ops", greetings: 1 } });
  });

  test("dev: the dev-only --plugin serves", async () => {
    expect(await dev.request({ type: "debug.run", id: 1 })).toMatchObject({ ok: true, result: { marker: DEBUG_MARKER } });
  });

  test("dev binary: --plugin FILE at run time (bundled with its imports), its flags parsed, its AgentError's code on the wire", async () => {
    const late = await start(devBin, ["--plugin", runtime, "--late-word", "now"]);
    expect(await late.request({ type: "late.say", id: 1 })).toMatchObject({ ok: true, result: { word: "now" } });
    expect(await late.request({ type: "late.find", id: 2, params: { name: "x" } })).toMatchObject({ ok: false, error: { code: "E_NOT_FOUND", message: "no x here" } });
    expect(await late.request({ type: "acme.greet", id: 3, params: { who: "ops" } })).toMatchObject({ ok: true });
    late.close();
  });

  test("prod binary: --plugin is refused before anything is loaded (exit 2)", () => {
    const p = Bun.spawnSync([prodBin, "--plugin", runtime, "--listen", `unix:${d.path}/never.sock`], { stdout: "pipe", stderr: "pipe" });
    expect(p.exitCode).toBe(2);
    expect(p.stderr.toString()).toContain("--plugin: this is a production build, which never loads code at run time");
  });
});
