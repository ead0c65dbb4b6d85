// Builds a production binary with the example custom plugin and checks what is (and is not) inside.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEV_MARKER } from "../plugins/dev-marker/index.ts";
import { RawClient, tempDir, waitFor } from "../agent/testing.ts";
import { build } from "./build.ts";

const root = join(import.meta.dir, "..");

describe("production build with a custom plugin", () => {
  const d = tempDir("mvm-build-");
  let bin = "";
  let proc: ReturnType<typeof Bun.spawn> | null = null;
  let c: RawClient;
  beforeAll(async () => {
    [bin] = await build({ out: d.path, flavors: ["prod"], plugins: [join(root, "examples/custom-plugin/index.ts")] });
    const sock = join(d.path, "a.sock");
    proc = Bun.spawn([bin!, "--listen", `unix:${sock}`, "--config-dir", d.path, "--acme-greeting", "hi"], { stderr: "pipe", stdout: "ignore" });
    let log = "";
    void (async () => {
      for await (const ch of proc!.stderr as ReadableStream<Uint8Array>) log += Buffer.from(ch).toString();
    })();
    await waitFor(() => log.includes("ready"), 30_000, "compiled agent ready");
    c = await RawClient.connect(sock);
  }, 120_000);
  afterAll(async () => {
    c?.close();
    proc?.kill("SIGTERM");
    await proc?.exited;
    d.cleanup();
  });

  test("the dev-only marker plugin is not in the file", () => {
    const bytes = readFileSync(bin);
    expect(bytes.includes(Buffer.from(DEV_MARKER))).toBe(false);
    expect(bytes.includes(Buffer.from("acme.greet"))).toBe(true);
  });

  test("hello says prod and lists the custom plugin, not the dev one", async () => {
    const h = await c.request({ type: "hello", id: 1 });
    expect(h.result.build).toBe("prod");
    expect(h.result.plugins).toContain("acme");
    expect(h.result.plugins).not.toContain("dev-marker");
    expect(h.result.requests).not.toContain("dev.marker");
  });

  test("the dev-only request answers E_UNKNOWN_REQUEST; the custom one works with its flag", async () => {
    expect(await c.request({ type: "dev.marker", id: 2 })).toMatchObject({ ok: false, error: { code: "E_UNKNOWN_REQUEST" } });
    expect(await c.request({ type: "acme.greet", id: 3, params: { who: "ops" } })).toMatchObject({ ok: true, result: { text: "hi, ops", greetings: 1 } });
  });
});
