// The unhappy paths over a real socket: failing restores, a refused SleepPrep, an Exec timeout, an answer over a small cap.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../../agent/testing.ts";
import { ask, frame, startCompatAgent, type CompatAgent } from "./testkit.ts";
import { alive } from "../../test/support/index.ts";

describe("lifecycle failures", () => {
  let a: CompatAgent;
  beforeAll(async () => {
    a = await startCompatAgent({
      integrations: (dir) => [
        { name: "db", checkpoint_cmd: `echo checkpoint > ${dir}/db.started; cat ${dir}/release`, restore_cmd: "echo not today >&2; exit 5" },
      ],
    });
    Bun.spawnSync(["mkfifo", join(a.dir, "release")]);
  });
  afterAll(async () => {
    await a.close();
  });

  test("SleepPrep (or CheckpointIntegrations) while a sleep-prep runs -> success:false saying why; the first one completes", async () => {
    const first = await a.connect();
    const second = await a.connect();
    const pending = ask(first, '{"SleepPrep":{"drain_timeout_secs":60}}');
    await waitFor(() => existsSync(join(a.dir, "db.started")), 10_000, "the checkpoint to start");
    expect(await ask(second, '{"SleepPrep":{"drain_timeout_secs":60}}')).toEqual({
      SleepPrepAck: { success: false, detail: "sleep-prep refused: a sleep-prep is already in progress" },
    });
    expect(await ask(second, '{"CheckpointIntegrations":{"integrations":["db"]}}')).toEqual({
      CheckpointResult: { success: false, failed: ["db"], detail: "refused: a sleep-prep is running its checkpoints now; ask again after it answers" },
    });
    // Release the checkpoint (open the fifo's write end and close it: `cat` sees EOF).
    closeSync(openSync(join(a.dir, "release"), "w"));
    const r = await pending;
    expect(r.SleepPrepAck.success).toBe(true);
    expect(r.SleepPrepAck.detail).toContain("checkpoints: db ok");
  });

  test("Wake whose restore command fails -> WakeAck success:false, with the reason on the console", async () => {
    const c = await a.connect();
    expect(await ask(c, '"Wake"')).toEqual({ WakeAck: { success: false } });
    expect(a.t.log.lines.some((l) => l.includes("Wake: answering success:false: db FAILED (exit 5: not today)"))).toBe(true);
  });

  test("PostRestore whose restore command fails -> success:false, the detail names it", async () => {
    const c = await a.connect();
    rmSync(join(a.dir, "db.started"));
    const prep = ask(c, '{"SleepPrep":{"drain_timeout_secs":60}}');
    await waitFor(() => existsSync(join(a.dir, "db.started")), 10_000, "the checkpoint to start");
    closeSync(openSync(join(a.dir, "release"), "w"));
    expect((await prep).SleepPrepAck.success).toBe(true);
    expect(await ask(c, '"PostRestore"')).toEqual({
      PostRestoreAck: { success: false, detail: "wake ran: restore commands: db FAILED (exit 5: not today); health grace restarted, schedules resumed" },
    });
  });

  test("Exec past its timeout_secs -> the group is killed, exit_code -1, the reason in stderr", async () => {
    const c = await a.connect();
    const started = join(a.dir, "exec.started");
    const pending = ask(c, `{"Exec":{"command":"echo started > ${started}; sleep 30","stdin":null,"timeout_secs":2}}`);
    await waitFor(() => existsSync(started), 10_000, "the command to start");
    await a.clock.advance(2000);
    expect(await pending).toEqual({ ExecResult: { exit_code: -1, stdout: "", stderr: "\nkilled by SIGKILL: timed out after 2s" } });
  });

  test("Exec whose host goes away -> the command's process group is killed (it does not run on to its timeout)", async () => {
    const c = await a.connect();
    const pidFile = join(a.dir, "exec.pid");
    c.write(frame(`{"Exec":{"command":"echo $$ > ${pidFile}.tmp; mv ${pidFile}.tmp ${pidFile}; exec sleep 600","stdin":null,"timeout_secs":600}}`));
    await waitFor(() => existsSync(pidFile), 10_000, "the command to start");
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(alive(pid)).toBe(true);
    c.close();
    await waitFor(() => !alive(pid), 10_000, "the command to be killed");
  });

  test("the status section counts answers, refusals and requests served without a hello", async () => {
    const c = await a.connect();
    await ask(c, '"Nope"');
    const s = (await a.t.agent.call("status")) as { plugins: Record<string, any> };
    expect(s.plugins["mvm-compat"]).toMatchObject({ max_frame_bytes: 262144, refused: 1, by_verb: { SleepPrep: 3, CheckpointIntegrations: 1, Wake: 1, PostRestore: 1, Exec: 2 } });
    expect(s.plugins["mvm-compat"].without_hello).toBe(8);
  });
});

describe("an answer over the dialect's cap", () => {
  let a: CompatAgent;
  beforeAll(async () => {
    a = await startCompatAgent({
      compat: { maxFrameBytes: 300 },
      integrations: () => ["alpha", "bravo", "charlie", "delta"].map((name) => ({ name })),
    });
  });
  afterAll(async () => {
    await a.close();
  });

  test("-> an Error frame that says so (never a silent drop), and the connection goes on", async () => {
    const c = await a.connect();
    const r = await ask(c, '"IntegrationStatus"');
    expect(r).toEqual({ Error: { message: expect.stringMatching(/^the answer \(\d+ bytes\) is over the 300-byte frame cap of the mvm dialect/) } });
    expect(a.t.log.lines.some((l) => l.includes("over the dialect's frame cap of 300 bytes"))).toBe(true);
    expect(await ask(c, '"Ping"')).toBe("Pong");
  });
});
