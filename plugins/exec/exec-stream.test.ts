// Streaming exec over a real unix socket: event order, split characters, disconnects, 20 concurrent execs.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { RawClient, waitFor } from "../../agent/testing.ts";
import { groupMembers } from "../../test/support/index.ts";
import { execAgent, mkfifo, release } from "./testkit.ts";

let t: Awaited<ReturnType<typeof execAgent>>;
beforeAll(async () => {
  t = await execAgent();
});
afterAll(async () => {
  await t.close();
});

let seq = 0;
const fifo = () => {
  const p = join(t.dir, `f${++seq}.fifo`);
  mkfifo(p);
  return p;
};

describe("exec stream: true", () => {
  test("events arrive while the command runs, then the answer without the streamed text", async () => {
    const gate = fifo();
    t.client.send({ type: "exec", id: 5, params: { command: `echo one; echo warn >&2; read x < ${gate}; echo two`, stream: true } });
    // The command cannot finish before we open the gate, so these events came before its exit.
    const first = [await t.client.next(), await t.client.next()];
    expect(first).toContainEqual({ id: 5, type: "exec", event: "stdout", data: "one\n" });
    expect(first).toContainEqual({ id: 5, type: "exec", event: "stderr", data: "warn\n" });
    await release(gate);
    expect(await t.client.next()).toEqual({ id: 5, type: "exec", event: "stdout", data: "two\n" });
    const answer = (await t.client.next()) as any;
    expect(answer).toMatchObject({ id: 5, type: "exec", ok: true });
    expect(answer.result).toMatchObject({
      exit_code: 0,
      stdout: "",
      stderr: "",
      stdout_bytes: 8,
      stderr_bytes: 5,
      stdout_truncated: false,
      stderr_truncated: false,
    });
  });

  test("a character split between two writes is never split between events", async () => {
    const gate = fifo();
    // "a" + the first two bytes of "€", wait, then the last byte of "€" + "b".
    t.client.send({ type: "exec", id: 6, params: { command: `printf 'a\\342\\202'; read x < ${gate}; printf '\\254b'`, stream: true } });
    expect(await t.client.next()).toMatchObject({ id: 6, event: "stdout", data: "a" });
    await release(gate);
    expect(await t.client.next()).toMatchObject({ id: 6, event: "stdout", data: "€b" });
    expect(await t.client.next()).toMatchObject({ id: 6, ok: true, result: { stdout_bytes: 5 } });
  });

  test("base64 events carry the exact bytes", async () => {
    t.client.send({ type: "exec", id: 7, params: { command: "printf '\\000\\377\\342\\202'", stream: true, encoding: "base64" } });
    const chunks: Buffer[] = [];
    for (;;) {
      const f = (await t.client.next()) as any;
      if (f.event) chunks.push(Buffer.from(f.data, "base64"));
      else {
        expect(f).toMatchObject({ id: 7, ok: true, result: { stdout: "", stdout_bytes: 4 } });
        break;
      }
    }
    expect([...Buffer.concat(chunks)]).toEqual([0, 255, 0xe2, 0x82]);
  });

  test("max_output_bytes bounds what is streamed", async () => {
    t.client.send({ type: "exec", id: 8, params: { command: "head -c 100000 /dev/zero | tr '\\0' x", stream: true, max_output_bytes: 1000 } });
    let streamed = "";
    for (;;) {
      const f = (await t.client.next()) as any;
      if (!f.event) {
        expect(f.result).toMatchObject({ stdout_truncated: true, stdout_bytes: 100_000, stdout: "" });
        break;
      }
      streamed += f.data;
    }
    expect(streamed).toBe("x".repeat(1000));
  });

  test("a client that disconnects kills the command's whole process group", async () => {
    const c = await RawClient.connect(t.socket);
    const before = t.log.lines.length;
    // The shell prints its pid (= the group id), starts a grandchild, and waits forever.
    c.send({ type: "exec", id: 1, params: { command: "echo $$; sleep 1000 & sleep 1000 & wait", stream: true } });
    const ev = (await c.next()) as any;
    const pgid = Number(ev.data.trim());
    expect(pgid).toBeGreaterThan(1);
    await waitFor(() => groupMembers(pgid).length >= 3, 5000, "the shell and its two sleeps");
    c.close();
    await waitFor(() => groupMembers(pgid).length === 0, 5000, "the process group to be gone");
    await waitFor(() => t.log.lines.slice(before).some((l) => l.includes("cancelled: the client went away")), 5000, "the audit line");
    expect((await t.client.request({ type: "status" })).result.work_in_flight).toBe(0);
  });

  test("a non-streaming exec is killed too when its client goes away", async () => {
    const c = await RawClient.connect(t.socket);
    const pidFile = join(t.dir, "ns.pid");
    c.send({ type: "exec", params: { command: `echo $$ > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}; sleep 1000` } });
    await waitFor(() => existsSync(pidFile), 5000, "the pid file");
    const pgid = Number(await Bun.file(pidFile).text());
    await waitFor(() => groupMembers(pgid).length >= 2, 5000, "the shell and its sleep");
    c.close();
    await waitFor(() => groupMembers(pgid).length === 0, 5000, "the process group to be gone");
  });
});

describe("concurrency", () => {
  test("20 execs with ids on one connection run at once and each answer carries its id", async () => {
    const dir = join(t.dir, "ready");
    await Bun.write(join(dir, ".keep"), "");
    const gates = Array.from({ length: 20 }, () => fifo());
    for (let i = 0; i < 20; i++) {
      t.client.send({
        type: "exec",
        id: `job-${i}`,
        params: { command: `touch ${dir}/${i}; read x < ${gates[i]}; echo "$x from ${i}"`, stream: i % 2 === 0 },
      });
    }
    // All 20 are running at the same time (each blocks on its own gate).
    await waitFor(async () => (await Array.fromAsync(new Bun.Glob("*").scan(dir))).length === 20, 10_000, "20 commands running");
    for (let i = 19; i >= 0; i--) await release(gates[i]!, `go${i}`);
    const answers = new Map<string, any>();
    const events = new Map<string, string>();
    while (answers.size < 20) {
      const f = (await t.client.next()) as any;
      if (f.event) events.set(f.id, (events.get(f.id) ?? "") + f.data);
      else answers.set(f.id, f);
    }
    for (let i = 0; i < 20; i++) {
      const a = answers.get(`job-${i}`);
      expect(a).toMatchObject({ ok: true, result: { exit_code: 0 } });
      const text = i % 2 === 0 ? events.get(`job-${i}`) : a.result.stdout;
      expect(text).toBe(`go${i} from ${i}\n`);
    }
  });
});
