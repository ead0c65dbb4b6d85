// Compiled binaries: the production one does not contain exec at all; the dev one serves it unless --no-exec.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RawClient, tempDir, waitFor } from "../../agent/testing.ts";
import { EXEC_MARKER } from "./exec.ts";

const root = join(import.meta.dir, "../..");
const d = tempDir("mvm-exec-build-");
const prodBin = join(d.path, "mvm-guest-agent");
const devBin = join(d.path, "mvm-guest-agent-dev");

/** Strings that exist only in the exec plugin's code (the marker, an error text, a schema description, its request table). */
const EXEC_ONLY = [EXEC_MARKER, "a variable name must be non-empty", "Working directory (must exist)", "Dev builds only: run a command"];

interface Running {
  proc: ReturnType<typeof Bun.spawn>;
  client: RawClient;
}
const running: Running[] = [];

/** Start a binary on a unix socket in the temp dir and connect to it once it says ready. */
async function start(bin: string, name: string, extra: string[] = []): Promise<RawClient> {
  const sock = join(d.path, `${name}.sock`);
  const proc = Bun.spawn([bin, "--listen", `unix:${sock}`, "--config-dir", d.path, ...extra], { stdout: "ignore", stderr: "pipe" });
  let log = "";
  void (async () => {
    for await (const ch of proc.stderr as ReadableStream<Uint8Array>) log += Buffer.from(ch).toString();
  })();
  await waitFor(() => log.includes("ready") || proc.exitCode !== null, 30_000, `${name} ready`);
  if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}:\n${log}`);
  const client = await RawClient.connect(sock);
  running.push({ proc, client });
  return client;
}

beforeAll(() => {
  // The documented interface: bun scripts/build.ts --out DIR -> DIR/mvm-guest-agent and DIR/mvm-guest-agent-dev.
  const r = Bun.spawnSync([process.execPath, join(root, "scripts/build.ts"), "--out", d.path], { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`build failed:\n${r.stdout.toString()}${r.stderr.toString()}`);
}, 300_000);

afterAll(async () => {
  for (const r of running) {
    r.client.close();
    r.proc.kill("SIGTERM");
    await r.proc.exited;
  }
  d.cleanup();
});

describe("production binary", () => {
  let c: RawClient;
  beforeAll(async () => {
    c = await start(prodBin, "prod");
  }, 60_000);

  test("the file contains none of the exec plugin's strings", () => {
    const bytes = readFileSync(prodBin);
    for (const s of EXEC_ONLY) expect({ s, found: bytes.includes(Buffer.from(s)) }).toEqual({ s, found: false });
  });

  test("exec answers E_UNKNOWN_REQUEST, and hello lists no exec", async () => {
    expect(await c.request({ type: "exec", id: 1, params: { argv: ["id"] } })).toMatchObject({ id: 1, ok: false, error: { code: "E_UNKNOWN_REQUEST" } });
    const h = await c.request({ type: "hello", id: 2 });
    expect(h.result.build).toBe("prod");
    expect(h.result.requests).not.toContain("exec");
    expect(h.result.plugins).not.toContain("exec");
  });
});

describe("dev binary", () => {
  let c: RawClient;
  let off: RawClient;
  beforeAll(async () => {
    c = await start(devBin, "dev");
    off = await start(devBin, "dev-no-exec", ["--no-exec"]);
  }, 60_000);

  test("the file has the exec plugin (so the grep above can see it)", () => {
    const bytes = readFileSync(devBin);
    for (const s of EXEC_ONLY) expect({ s, found: bytes.includes(Buffer.from(s)) }).toEqual({ s, found: true });
  });

  test("hello says dev and lists exec; exec runs and streams", async () => {
    const h = await c.request({ type: "hello", id: 1 });
    expect(h.result).toMatchObject({ build: "dev" });
    expect(h.result.requests).toContain("exec");
    expect(h.result.plugins).toContain("exec");
    expect(await c.request({ type: "exec", id: 2, params: { argv: ["echo", "from the dev binary"] } })).toMatchObject({
      id: 2,
      ok: true,
      result: { exit_code: 0, stdout: "from the dev binary\n" },
    });
    c.send({ type: "exec", id: 3, params: { command: "echo streamed", stream: true } });
    expect(await c.next()).toEqual({ id: 3, type: "exec", event: "stdout", data: "streamed\n" });
    expect(await c.next()).toMatchObject({ id: 3, ok: true, result: { stdout: "", stdout_bytes: 9 } });
  });

  test("--no-exec turns it off at run time", async () => {
    expect(await off.request({ type: "exec", id: 1, params: { argv: ["id"] } })).toMatchObject({ ok: false, error: { code: "E_UNKNOWN_REQUEST" } });
    const h = await off.request({ type: "hello", id: 2 });
    expect(h.result.build).toBe("dev");
    expect(h.result.requests).not.toContain("exec");
  });
});
