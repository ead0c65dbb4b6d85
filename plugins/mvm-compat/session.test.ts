// mvm frames on a live connection: interleaved with native frames, unknown and malformed verbs, the 256 KiB cap, a production build.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bodyLength } from "../../agent/frame.ts";
import type { RawClient } from "../../agent/testing.ts";
import { TRUNCATED_MARK } from "./devtools.ts";
import { MVM_MAX_FRAME_BYTES } from "./schemas.ts";
import { ask, frame, startCompatAgent, type CompatAgent } from "./testkit.ts";

let a: CompatAgent;
let c: RawClient;

beforeAll(async () => {
  a = await startCompatAgent({ integrations: () => [{ name: "web" }] });
  c = await a.connect();
});

afterAll(async () => {
  await a.close();
});

const isMvmAnswer = (v: unknown) => typeof v === "string" || (v !== null && typeof v === "object" && !("ok" in v));

test("a mixed connection: native frames (with and without ids) and mvm frames interleaved, each answered in its own envelope", async () => {
  c.send({ type: "ping", id: 1 });
  c.write(frame('"Ping"'));
  c.send({ type: "worker-status" });
  c.write(frame('"WorkerStatus"'));
  c.send({ type: "health", id: "h" });
  c.write(frame('"IntegrationStatus"'));
  c.send({ type: "ping" });
  c.write(frame('{"Nope":null}'));
  const got: any[] = [];
  for (let i = 0; i < 8; i++) got.push(await c.next());
  const mvm = got.filter(isMvmAnswer);
  const native = got.filter((v) => !isMvmAnswer(v));
  // mvm answers are positional: in the order asked.
  expect(mvm).toEqual([
    "Pong",
    { WorkerStatus: { status: "busy", last_busy_at: expect.any(String) } },
    { IntegrationStatusReport: { integrations: [{ name: "web", status: "active", last_checkpoint_at: null, state_size_bytes: 0, health: null }] } },
    { Error: { message: "unsupported request: Nope" } },
  ]);
  expect(native.find((n) => n.id === 1)).toEqual({ id: 1, type: "ping", ok: true, result: {} });
  expect(native.find((n) => n.id === "h")).toMatchObject({ id: "h", type: "health", ok: true });
  // Id-less native answers keep their order too.
  expect(native.filter((n) => n.id === undefined).map((n) => n.type)).toEqual(["worker-status", "ping"]);
  // Still open: both dialects go on.
  expect(await ask(c, '"Ping"')).toBe("Pong");
  expect(await c.request({ type: "ping", id: 2 })).toMatchObject({ id: 2, ok: true });
});

test("requests without a prior hello are served (their legacy host helpers never send one); after a hello too", async () => {
  const fresh = await a.connect();
  expect(await ask(fresh, '"WorkerStatus"')).toMatchObject({ WorkerStatus: { status: "busy" } });
  expect(await ask(fresh, '{"ProtocolHello":{"host_protocol_version":1,"min_supported_version":1,"host_version":"0.14.0","requested_capabilities":[]}}')).toMatchObject({
    ProtocolHelloAck: { capabilities: [] },
  });
  expect(await ask(fresh, '"Ping"')).toBe("Pong");
});

describe("unknown and malformed mvm frames: an Error frame with a clear message, the connection kept", () => {
  const cases: [string, string | RegExp][] = [
    ['"ReadinessStatus"', "unsupported request: ReadinessStatus"],
    ['{"FsRead":{"path":"/etc/hosts"}}', "unsupported request: FsRead"],
    ['{"RunCode":{"code":"print(1)","timeout_secs":5}}', "unsupported request: RunCode"],
    ['"ping"', 'unsupported request: ping (mvm verbs are PascalCase: "Ping")'],
    ['"sleep-prep"', 'unsupported request: sleep-prep (mvm verbs are PascalCase: "SleepPrep")'],
    ['{"SleepPrep":{"drain_timeout_secs":30,"force":true}}', 'malformed request: SleepPrep: unknown field "force", expected drain_timeout_secs'],
    ['{"SleepPrep":{"drain_timeout_secs":"30"}}', /^malformed request: SleepPrep: \/drain_timeout_secs Expected integer$/],
    ['{"SleepPrep":{"drain_timeout_secs":-1}}', /^malformed request: SleepPrep: \/drain_timeout_secs /],
    ['{"SleepPrep":{}}', /^malformed request: SleepPrep: missing field drain_timeout_secs; e\.g\. \{"SleepPrep"/],
    ['"SleepPrep"', /^malformed request: SleepPrep needs fields; e\.g\. /],
    ['{"SleepPrep":[30]}', /^malformed request: SleepPrep takes an object of fields \(drain_timeout_secs\), got an array/],
    ['{"Ping":{}}', 'malformed request: Ping takes no fields; send "Ping"'],
    ['{"Ping":null,"Wake":null}', "malformed request: an mvm request object has exactly one key (the verb), got 2: Ping, Wake"],
    ['{"Exec":{"stdin":null}}', /^malformed request: Exec: missing field command/],
    ['{"CheckpointIntegrations":{"integrations":["a",1]}}', /^malformed request: CheckpointIntegrations: \/integrations\/1 Expected string$/],
    ['{"ProtocolHello":{"host_protocol_version":1}}', /^malformed request: ProtocolHello: missing fields min_supported_version, host_version, requested_capabilities/],
  ];
  for (const [body, message] of cases) {
    test(body, async () => {
      const r = await ask(c, body);
      expect(Object.keys(r)).toEqual(["Error"]);
      expect(Object.keys(r.Error)).toEqual(["message"]);
      if (typeof message === "string") expect(r.Error.message).toBe(message);
      else expect(r.Error.message).toMatch(message);
      expect(await ask(c, '"Ping"')).toBe("Pong");
    });
  }

  test("a native body without `type` and without a PascalCase key stays native (E_BAD_REQUEST)", async () => {
    expect(await c.request({ typo: "ping" })).toMatchObject({ ok: false, error: { code: "E_BAD_REQUEST" } });
  });
});

describe("the 256 KiB cap of the mvm dialect", () => {
  test("FsDiff: the answer is cut to fit, and the console says so and why", async () => {
    const dir = join(a.upper, "many");
    mkdirSync(dir, { recursive: true });
    const long = "x".repeat(180);
    for (let i = 0; i < 2000; i++) writeFileSync(join(dir, `${String(i).padStart(4, "0")}-${long}`), "");
    const r = await ask(c, '"FsDiff"');
    const size = bodyLength(r);
    expect(size).toBeLessThanOrEqual(MVM_MAX_FRAME_BYTES);
    expect(size).toBeGreaterThan(MVM_MAX_FRAME_BYTES - 300);
    const changes = r.FsDiffResult.changes as { path: string }[];
    expect(changes.length).toBeGreaterThan(1000);
    expect(changes.length).toBeLessThan(2001);
    const paths = changes.map((x) => x.path);
    expect(paths).toEqual([...paths].sort((p, q) => Buffer.compare(Buffer.from(p), Buffer.from(q))));
    expect(a.t.log.lines.some((l) => /FsDiff: answer cut to \d+ changes .* frame cap of 262144 bytes/.test(l))).toBe(true);
    expect(await ask(c, '"Ping"')).toBe("Pong");
  });

  test("Exec: big output (multi-byte characters) is cut on character boundaries and marked", async () => {
    const r = await ask(c, '{"Exec":{"command":"yes héllo-wörld | head -c 700000; yes é | head -c 400000 >&2","stdin":null,"timeout_secs":30}}');
    expect(bodyLength(r)).toBeLessThanOrEqual(MVM_MAX_FRAME_BYTES);
    const { exit_code, stdout, stderr } = r.ExecResult;
    expect(exit_code).toBe(0);
    expect(stdout.endsWith(TRUNCATED_MARK)).toBe(true);
    expect(stderr.endsWith(TRUNCATED_MARK)).toBe(true);
    expect(stdout.startsWith("héllo-wörld\nhéllo-wörld\n")).toBe(true);
    expect(stdout.includes("\uFFFD")).toBe(false);
    expect(stderr.includes("\uFFFD")).toBe(false);
  });

  test("Exec: output that grows when escaped (NUL bytes) still fits", async () => {
    const r = await ask(c, '{"Exec":{"command":"head -c 200000 /dev/zero","stdin":null,"timeout_secs":30}}');
    expect(bodyLength(r)).toBeLessThanOrEqual(MVM_MAX_FRAME_BYTES);
    expect(r.ExecResult.exit_code).toBe(0);
    expect(r.ExecResult.stdout.endsWith(TRUNCATED_MARK)).toBe(true);
    expect(r.ExecResult.stdout.length).toBeGreaterThan(30_000);
  });
});

describe("a production build (no exec plugin)", () => {
  let p: CompatAgent;
  beforeAll(async () => {
    p = await startCompatAgent({ prod: true });
  });
  afterAll(async () => {
    await p.close();
  });

  test("Exec -> Error, connection kept", async () => {
    const pc = await p.connect();
    expect(await ask(pc, '{"Exec":{"command":"id","stdin":null,"timeout_secs":null}}')).toEqual({
      Error: { message: "Exec is not available: this agent is a production build (or was started with --no-exec)" },
    });
    expect(await ask(pc, '"Ping"')).toBe("Pong");
  });
});
