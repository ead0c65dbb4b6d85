// Every mvm request over a real unix socket, with the exact bytes the original host sends and the exact shape back.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { RawClient } from "../../agent/testing.ts";
import { MvmAnswer, MVM_TIME_PATTERN } from "./schemas.ts";
import { ask, frame, settled, startCompatAgent, type CompatAgent } from "./testkit.ts";

const TIME = new RegExp(MVM_TIME_PATTERN);
const answerCheck = TypeCompiler.Compile(MvmAnswer);

let a: CompatAgent;
let c: RawClient;

beforeAll(async () => {
  a = await startCompatAgent({
    integrations: (dir) => [
      { name: "web", health_cmd: "true" },
      { name: "broken", health_cmd: "echo boom >&2; exit 3" },
      { name: "plain" },
      { name: "warming", health_cmd: "exit 1", startup_grace_secs: 3600 },
      { name: "flaky", health_cmd: "exit 1", failure_threshold: 5 },
      { name: "db", checkpoint_cmd: `echo checkpoint >> ${dir}/db.log`, restore_cmd: `echo restore >> ${dir}/db.log`, critical: true },
      { name: "cache", checkpoint_cmd: "echo cache-full >&2; exit 4" },
    ],
    probes: [
      { name: "disk", cmd: "echo 42" },
      { name: "doc", cmd: `echo '{"a":1}'`, output_format: "json" },
      { name: "bad", cmd: "echo nope >&2; exit 2" },
      { name: "code", cmd: "exit 1", output_format: "exit_code" },
    ],
  });
  await settled(a);
  c = await a.connect();
});

afterAll(async () => {
  await a.close();
});

/** Ask, check the answer against the dialect's schemas, return it. */
async function mvm(json: string): Promise<any> {
  const r = await ask(c, json);
  expect(answerCheck.Check(r)).toBe(true);
  return r;
}

test('"Ping" -> "Pong", byte for byte', async () => {
  const sock = net.connect({ path: a.t.socket });
  await new Promise<void>((r) => sock.once("connect", () => r()));
  const got: Buffer[] = [];
  const want = frame('"Pong"');
  const done = new Promise<void>((r) => sock.on("data", (b: Buffer) => (got.push(b), Buffer.concat(got).length >= want.length && r())));
  sock.write(Buffer.from([0, 0, 0, 6, ...Buffer.from('"Ping"')]));
  await done;
  expect([...Buffer.concat(got)]).toEqual([...want]);
  sock.destroy();
});

test("ProtocolHello -> ProtocolHelloAck: range [1,1], capabilities requested and served, in the order asked", async () => {
  const r = await mvm(
    '{"ProtocolHello":{"host_protocol_version":2,"min_supported_version":1,"host_version":"0.14.0","requested_capabilities":["console","integration_status","ping","readiness"]}}',
  );
  expect(r).toEqual({
    ProtocolHelloAck: { agent_protocol_version: 1, min_supported_version: 1, agent_version: "9.8.7", capabilities: ["integration_status", "ping"] },
  });
});

test("ProtocolHello without overlap -> ProtocolMismatch (upgrade_host / rebuild_guest), and the connection stays", async () => {
  const old = await mvm('{"ProtocolHello":{"host_protocol_version":0,"min_supported_version":0,"host_version":"0.9.0","requested_capabilities":[]}}');
  expect(old).toEqual({
    ProtocolMismatch: { host_protocol_version: 0, agent_protocol_version: 1, required_action: "upgrade_host", message: expect.stringContaining("upgrade the host") },
  });
  const newer = await mvm('{"ProtocolHello":{"host_protocol_version":3,"min_supported_version":2,"host_version":"1.0.0","requested_capabilities":["ping"]}}');
  expect(newer.ProtocolMismatch).toMatchObject({ host_protocol_version: 3, agent_protocol_version: 1, required_action: "rebuild_guest" });
  expect(await mvm('"Ping"')).toBe("Pong");
});

test('"WorkerStatus" -> {"WorkerStatus":{"status","last_busy_at"}} from worker-status', async () => {
  const r = await mvm('"WorkerStatus"');
  const native = (await a.t.agent.call("worker-status")) as { last_busy_at: string };
  expect(r).toEqual({ WorkerStatus: { status: "busy", last_busy_at: `${native.last_busy_at.slice(0, 19)}Z` } });
  expect(r.WorkerStatus.last_busy_at).toMatch(TIME);
});

test('"IntegrationStatus" -> their status strings (active, starting, pending, {"error"}) and health records', async () => {
  const r = await mvm('"IntegrationStatus"');
  const by = Object.fromEntries(r.IntegrationStatusReport.integrations.map((i: any) => [i.name, i]));
  expect(Object.keys(by).sort()).toEqual(["broken", "cache", "db", "flaky", "plain", "warming", "web"]);
  expect(by.web).toEqual({
    name: "web",
    status: "active",
    last_checkpoint_at: null,
    state_size_bytes: 0,
    health: { healthy: true, detail: "ok", checked_at: expect.stringMatching(TIME) },
  });
  expect(by.plain).toEqual({ name: "plain", status: "active", last_checkpoint_at: null, state_size_bytes: 0, health: null });
  expect(by.broken.status).toEqual({ error: expect.stringContaining("boom") });
  expect(by.broken.health).toEqual({ healthy: false, detail: "exit code 3: boom", checked_at: expect.stringMatching(TIME) });
  expect(by.warming.status).toBe("starting");
  // Natively pending (1 failure of 5), but the original had no thresholds: its last check failed.
  expect((await a.t.agent.call("health-check", { name: "flaky" }) as { status: string }).status).toBe("pending");
  expect(by.flaky.status).toEqual({ error: "exit code 1" });
});

test('"ProbeStatus" -> probes that ran: healthy means exit 0, output is the parsed value', async () => {
  const r = await mvm('"ProbeStatus"');
  const by = Object.fromEntries(r.ProbeStatusReport.probes.map((p: any) => [p.name, p]));
  expect(by.disk).toEqual({ name: "disk", healthy: true, detail: "ok", output: 42, checked_at: expect.stringMatching(TIME) });
  expect(by.doc).toEqual({ name: "doc", healthy: true, detail: "ok", output: { a: 1 }, checked_at: expect.stringMatching(TIME) });
  expect(by.bad).toEqual({ name: "bad", healthy: false, detail: expect.stringContaining("nope"), checked_at: expect.stringMatching(TIME) });
  expect(by.code).toEqual({ name: "code", healthy: false, detail: "exit code 1", checked_at: expect.stringMatching(TIME) });
});

test("CheckpointIntegrations runs the named checkpoint_cmd; unknown names and failures are in failed", async () => {
  const r = await mvm('{"CheckpointIntegrations":{"integrations":["db","cache","nope","web"]}}');
  expect(r).toEqual({
    CheckpointResult: {
      success: false,
      failed: ["cache", "nope"],
      detail: expect.stringMatching(/^db: ok .*; cache: FAILED \(exit 4: cache-full\); nope: no such integration; web: no checkpoint_cmd, nothing to run$/),
    },
  });
  expect(readFileSync(join(a.dir, "db.log"), "utf8")).toBe("checkpoint\n");
  expect(await mvm('{"CheckpointIntegrations":{"integrations":["db"]}}')).toEqual({
    CheckpointResult: { success: true, failed: [], detail: expect.stringContaining("db: ok") },
  });
  const after = await mvm('"IntegrationStatus"');
  const db = after.IntegrationStatusReport.integrations.find((i: any) => i.name === "db");
  expect(db.last_checkpoint_at).toMatch(TIME);
});

test("SleepPrep runs sleep-prep (checkpoints, sync, drop caches); Wake and PostRestore run wake", async () => {
  writeFileSync(join(a.dir, "db.log"), "");
  const prep = await mvm('{"SleepPrep":{"drain_timeout_secs":30}}');
  expect(prep).toEqual({
    SleepPrepAck: { success: true, detail: expect.stringMatching(/^filesystems synced, page cache dropped; checkpoints: cache FAILED \(exit 4: cache-full\), db ok$/) },
  });
  expect(readFileSync(a.dropCaches, "utf8")).toBe("3");
  expect(readFileSync(join(a.dir, "db.log"), "utf8")).toBe("checkpoint\n");
  expect((await mvm('"IntegrationStatus"')).IntegrationStatusReport.integrations.find((i: any) => i.name === "web").status).toBe("paused");

  const post = await mvm('"PostRestore"');
  expect(post).toEqual({ PostRestoreAck: { success: true, detail: "wake ran: restore commands: db ok; health grace restarted, schedules resumed" } });
  expect(readFileSync(join(a.dir, "db.log"), "utf8")).toBe("checkpoint\nrestore\n");
  // A second wake (Wake after PostRestore) is a no-op and still a success.
  expect(await mvm('"Wake"')).toEqual({ WakeAck: { success: true } });
  expect(await mvm('"PostRestore"')).toEqual({ PostRestoreAck: { success: true, detail: expect.stringContaining("not sleeping") } });
  expect(readFileSync(join(a.dir, "db.log"), "utf8")).toBe("checkpoint\nrestore\n");
});

test("SleepPrep then Wake: restore commands run; drain_timeout_secs 0 is taken as 1 and said so", async () => {
  writeFileSync(join(a.dir, "db.log"), "");
  const prep = await mvm('{"SleepPrep":{"drain_timeout_secs":0}}');
  expect(prep.SleepPrepAck.success).toBe(true);
  expect(a.t.log.lines.some((l) => l.includes("drain_timeout_secs 0 taken as 1"))).toBe(true);
  // Asked again while sleeping: the same answer, nothing run twice.
  expect(await mvm('{"SleepPrep":{"drain_timeout_secs":30}}')).toEqual(prep);
  expect(await mvm('"Wake"')).toEqual({ WakeAck: { success: true } });
  expect(readFileSync(join(a.dir, "db.log"), "utf8")).toBe("checkpoint\nrestore\n");
});

test('"FsDiff" -> {"FsDiffResult":{"changes":[{path,kind,size}]}} sorted by path, from fs-diff with the lower layer', async () => {
  mkdirSync(join(a.lower, "etc"), { recursive: true });
  writeFileSync(join(a.lower, "etc", "hosts"), "127.0.0.1 localhost\n");
  writeFileSync(join(a.lower, "etc", "old.conf"), "x");
  mkdirSync(join(a.upper, "etc"), { recursive: true });
  writeFileSync(join(a.upper, "etc", "hosts"), "127.0.0.1 localhost guest\n");
  writeFileSync(join(a.upper, "etc", "new.conf"), "hello");
  writeFileSync(join(a.upper, "etc", ".wh.old.conf"), "");
  const r = await mvm('"FsDiff"');
  expect(r).toEqual({
    FsDiffResult: {
      changes: [
        { path: "/etc/hosts", kind: "modified", size: 26 },
        { path: "/etc/new.conf", kind: "created", size: 5 },
        { path: "/etc/old.conf", kind: "deleted", size: 0 },
      ],
    },
  });
});

test("FsDiff without an upper dir -> Error naming why", async () => {
  renameSync(a.upper, `${a.upper}.away`);
  try {
    const r = await mvm('"FsDiff"');
    expect(r).toEqual({ Error: { message: expect.stringMatching(/^FsDiff is not available: .+/) } });
  } finally {
    renameSync(`${a.upper}.away`, a.upper);
  }
});

test("Exec runs /bin/sh -c with stdin; exit code, stdout and stderr come back", async () => {
  expect(await mvm('{"Exec":{"command":"cat; echo err >&2; exit 7","stdin":"hello","timeout_secs":null}}')).toEqual({
    ExecResult: { exit_code: 7, stdout: "hello", stderr: "err\n" },
  });
  expect(await mvm('{"Exec":{"command":"echo hi"}}')).toEqual({ ExecResult: { exit_code: 0, stdout: "hi\n", stderr: "" } });
});

test("Exec ended by a signal -> exit_code -1 with the reason in stderr", async () => {
  const r = await mvm('{"Exec":{"command":"echo before; kill -TERM $$","stdin":null,"timeout_secs":10}}');
  expect(r).toEqual({ ExecResult: { exit_code: -1, stdout: "before\n", stderr: "\nkilled by SIGTERM" } });
});
