// Compiled binaries: the production one does not contain exec at all; the dev one serves it unless --no-exec.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { RawClient } from "../../agent/testing.ts";
import { agentBinaries, spawnAgent, type SpawnedAgent } from "../../test/support/index.ts";
import { EXEC_MARKER } from "./exec.ts";

/** Strings that exist only in the exec plugin's code (the marker, an error text, a schema description, its request table). */
const EXEC_ONLY = [EXEC_MARKER, "a variable name must be non-empty", "Working directory (must exist)", "Dev builds only: run a command"];

let prodBin = "";
let devBin = "";
const running: { agent: SpawnedAgent; client: RawClient }[] = [];

/** Start a binary on a unix socket and connect to it once it listens. */
async function start(bin: string, extra: string[] = []): Promise<RawClient> {
  const agent = await spawnAgent({ bin, args: extra });
  const client = await agent.connect();
  running.push({ agent, client });
  return client;
}

beforeAll(async () => {
  // Built once per state of the sources by `bun scripts/build.ts --out DIR` (test/support/binaries.ts).
  ({ prod: prodBin, dev: devBin } = await agentBinaries());
}, 300_000);

afterAll(async () => {
  for (const r of running) {
    r.client.close();
    await r.agent.stop();
  }
});

describe("production binary", () => {
  let c: RawClient;
  beforeAll(async () => {
    c = await start(prodBin);
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
    c = await start(devBin);
    off = await start(devBin, ["--no-exec"]);
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
