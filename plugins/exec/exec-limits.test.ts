// exec limits over a real unix socket: timeouts kill grandchildren, 10 MB output, cuts at UTF-8, frame cap.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ManualClock } from "../../agent/clock.ts";
import { waitFor } from "../../agent/testing.ts";
import { alive, groupMembers } from "../../test/support/index.ts";
import { execAgent } from "./testkit.ts";

describe("timeouts (manual clock)", () => {
  let t: Awaited<ReturnType<typeof execAgent>>;
  const clock = new ManualClock();
  beforeAll(async () => {
    t = await execAgent({ clock });
  });
  afterAll(async () => {
    await t.close();
  });

  test("a timeout kills the whole group, grandchildren included, and says so", async () => {
    const pids = join(t.dir, "pids");
    // A child, a grandchild (in a subshell) and the shell itself, all waiting far longer than the timeout.
    const command = `sleep 1000 & a=$!; (sleep 1000 & wait) & b=$!; echo started; echo "$$ $a $b" > ${pids}.tmp; mv ${pids}.tmp ${pids}; wait`;
    const timers = clock.pending(); // the agent's own (connection sweep)
    t.client.send({ type: "exec", id: "slow", params: { command, timeout_secs: 5 } });
    await waitFor(() => existsSync(pids), 5000, "the pid file");
    const [pgid, ...others] = (await Bun.file(pids).text()).trim().split(" ").map(Number);
    await waitFor(() => groupMembers(pgid!).length >= 4, 5000, "shell, sleep, subshell and its sleep");
    await clock.advance(4_999);
    expect(alive(pgid!)).toBe(true);
    await clock.advance(1);
    const a = (await t.client.next()) as any;
    expect(a).toMatchObject({ id: "slow", ok: true });
    expect(a.result).toMatchObject({ timed_out: true, exit_code: null, signal: "SIGKILL", stdout: "started\n" });
    await waitFor(() => groupMembers(pgid!).length === 0, 5000, "no process of the group left");
    for (const pid of others) expect(alive(pid)).toBe(false);
    expect(t.log.lines.some((l) => l.includes("timed out after 5s (process group killed)"))).toBe(true);
    expect(clock.pending()).toBe(timers);
  });

  test("the default timeout is 60 s", async () => {
    t.client.send({ type: "exec", id: "default", params: { command: "echo $$; exec sleep 1000", stream: true } });
    const pgid = Number(((await t.client.next()) as any).data);
    await waitFor(() => groupMembers(pgid).length === 1, 5000, "the sleep");
    await clock.advance(59_999);
    expect(groupMembers(pgid)).toHaveLength(1);
    await clock.advance(1);
    expect(await t.client.next()).toMatchObject({ id: "default", result: { timed_out: true } });
  });

  test("a command that finishes in time leaves no timer behind", async () => {
    const timers = clock.pending(); // the agent's own (connection sweep)
    const a = await t.client.request({ type: "exec", params: { argv: ["true"], timeout_secs: 1 } });
    expect(a.result.timed_out).toBe(false);
    expect(clock.pending()).toBe(timers);
  });
});

describe("output bounds", () => {
  let t: Awaited<ReturnType<typeof execAgent>>;
  beforeAll(async () => {
    t = await execAgent();
  });
  afterAll(async () => {
    await t.close();
  });

  const TEN_MB = 10 * 1024 * 1024;

  test("10 MB of output: counted in full, kept up to the frame cap, flagged", async () => {
    const a = await t.client.request({ type: "exec", id: 1, params: { command: `head -c ${TEN_MB} /dev/zero | tr '\\0' a; echo done >&2` } });
    expect(a.ok).toBe(true);
    const r = a.result;
    expect(r).toMatchObject({ exit_code: 0, stdout_bytes: TEN_MB, stdout_truncated: true, stderr: "done\n", stderr_truncated: false });
    // The default cap is 1 MiB per stream, but one answer must fit the 1 MiB frame: it is cut to fit.
    expect(r.stdout.length).toBeGreaterThan(1024 * 1024 - 1024);
    expect(r.stdout.length).toBeLessThan(1024 * 1024);
    expect(/^a+$/.test(r.stdout)).toBe(true);
  });

  test("max_output_bytes keeps exactly that much of each stream", async () => {
    const a = await t.client.request({ type: "exec", params: { command: `head -c ${TEN_MB} /dev/zero | tr '\\0' b; head -c 5000 /dev/zero | tr '\\0' e >&2`, max_output_bytes: 4096 } });
    expect(a.result).toMatchObject({ stdout_bytes: TEN_MB, stderr_bytes: 5000, stdout_truncated: true, stderr_truncated: true });
    expect(a.result.stdout).toBe("b".repeat(4096));
    expect(a.result.stderr).toBe("e".repeat(4096));
  });

  test("max_output_bytes 0 keeps nothing but still counts", async () => {
    const a = await t.client.request({ type: "exec", params: { command: "echo hi", max_output_bytes: 0 } });
    expect(a.result).toMatchObject({ stdout: "", stdout_bytes: 3, stdout_truncated: true });
  });

  test("a cut inside a multi-byte character keeps whole characters only", async () => {
    // 3-byte "€" and 4-byte "😀": caps that land on each byte of each.
    for (const [ch, caps] of [["€", [1000, 1001, 1002]], ["😀", [1000, 1001, 1002, 1003]]] as const) {
      for (const cap of caps) {
        const a = await t.client.request({ type: "exec", params: { argv: ["sh", "-c", `for i in $(seq 1 2000); do printf '${ch}'; done`], max_output_bytes: cap } });
        const n = Math.floor(cap / Buffer.byteLength(ch));
        expect(a.result.stdout).toBe(ch.repeat(n));
        expect(a.result.stdout_truncated).toBe(true);
        expect(a.result.stdout_bytes).toBe(2000 * Buffer.byteLength(ch));
      }
    }
  });

  test("base64 keeps binary output exactly, cut at the byte", async () => {
    const a = await t.client.request({ type: "exec", params: { command: "printf '\\360\\237\\230\\200\\377\\000'", encoding: "base64", max_output_bytes: 3 } });
    expect([...Buffer.from(a.result.stdout, "base64")]).toEqual([0xf0, 0x9f, 0x98]);
    expect(a.result).toMatchObject({ stdout_bytes: 6, stdout_truncated: true });
  });

  test("invalid UTF-8 in utf8 mode becomes U+FFFD, not an error", async () => {
    const a = await t.client.request({ type: "exec", params: { command: "printf 'ok\\377\\n'" } });
    expect(a.result.stdout).toBe("ok\ufffd\n");
  });
});

describe("a small frame cap", () => {
  let t: Awaited<ReturnType<typeof execAgent>>;
  const cap = 4096;
  beforeAll(async () => {
    t = await execAgent({ config: { maxFrameBytes: cap } });
  });
  afterAll(async () => {
    await t.close();
  });

  test("the answer is cut to fit the frame instead of failing with E_RESULT_TOO_LARGE", async () => {
    const a = await t.client.request({ type: "exec", id: "fit", params: { command: "for i in $(seq 1 3000); do printf '€\\n'; done; echo err >&2" } });
    expect(a).toMatchObject({ id: "fit", ok: true, result: { stderr: "err\n", stdout_truncated: true, stdout_bytes: 12_000 } });
    expect(Buffer.byteLength(JSON.stringify(a))).toBeLessThanOrEqual(cap);
    expect(Buffer.byteLength(JSON.stringify(a))).toBeGreaterThan(cap - 16);
    expect(a.result.stdout).toMatch(/^(€\n)*€?$/);
  });

  test("streamed output is split into events within the frame cap, nothing lost", async () => {
    const line = "€😀\u0001 ";
    t.client.send({ type: "exec", id: "s", params: { command: `for i in $(seq 1 2000); do printf '${line}'; done`, stream: true } });
    let text = "";
    let events = 0;
    for (;;) {
      const f = (await t.client.next()) as any;
      expect(Buffer.byteLength(JSON.stringify(f))).toBeLessThanOrEqual(cap);
      if (!f.event) {
        expect(f).toMatchObject({ ok: true, result: { stdout_truncated: false } });
        break;
      }
      events++;
      text += f.data;
    }
    expect(text).toBe(line.repeat(2000));
    expect(events).toBeGreaterThan(5);
  });
});

describe("agent stop", () => {
  test("stopping the agent kills a running exec's group (an in-process call has no client to lose)", async () => {
    const t = await execAgent();
    const pidFile = join(t.dir, "stop.pid");
    const call = t.agent.call("exec", { command: `echo $$ > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}; sleep 1000 & wait` });
    await waitFor(() => existsSync(pidFile), 5000, "the pid file");
    const pgid = Number(await Bun.file(pidFile).text());
    await waitFor(() => groupMembers(pgid).length >= 2, 5000, "the shell and its sleep");
    const stopped = t.close();
    expect(await call).toMatchObject({ exit_code: null, signal: "SIGKILL", timed_out: false });
    await stopped;
    expect(groupMembers(pgid)).toEqual([]);
    expect(t.log.lines.some((l) => l.includes("cancelled: the agent is stopping (process group killed)"))).toBe(true);
  });
});
