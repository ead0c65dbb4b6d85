// The QMP client against a real QEMU, and against sockets that answer garbage, too much or nothing.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { tempDir, waitFor } from "../../../agent/testing.ts";
import { VmmError } from "./errors.ts";
import { QmpClient } from "./qmp.ts";
import { fakeServer, QEMU, rejectsWith, staleSocket, startQemu, warnIfNoQemu, type TestQemu } from "./testing.ts";

const d = tempDir("mvm-qmp-");
afterAll(() => d.cleanup());
warnIfNoQemu("the QMP client");


describe.skipIf(!QEMU)("against a real QEMU", () => {
  let q: TestQemu;
  beforeAll(async () => {
    q = await startQemu(d.path, "real");
  });
  afterAll(async () => {
    await q.kill();
  });

  test("greeting, capabilities, commands with answers and errors, events kept apart", async () => {
    const qmp = await QmpClient.connect(q.qmp, { timeoutMs: 5000 });
    try {
      const v = (await qmp.execute("query-version")) as { qemu: { major: number } };
      expect(v.qemu.major).toBeGreaterThanOrEqual(7);
      await qmp.execute("stop");
      expect(((await qmp.execute("query-status")) as { status: string }).status).toBe("paused");
      await qmp.execute("cont");
      expect(((await qmp.execute("query-status")) as { status: string }).status).toBe("running");
      const e = await rejectsWith(qmp.execute("no-such-command"), VmmError);
      expect(e.code).toBe("E_VMM_REFUSED");
      expect(e.message).toBe("QMP no-such-command: CommandNotFound: The command no-such-command has not been found");
      // Answers are matched by id: many at once come back to their own callers.
      const all = await Promise.all([qmp.execute("query-status"), qmp.execute("query-version"), qmp.execute("query-status")]);
      expect((all[1] as { qemu: unknown }).qemu).toBeDefined();
      await waitFor(() => qmp.events.some((m) => m.event === "RESUME"), 5000, "the RESUME event");
      expect(qmp.events.map((m) => m.event)).toContain("STOP");
    } finally {
      qmp.close();
    }
  });

  test("QEMU serves one QMP client at a time: a second one gets no greeting and fails at its deadline, saying why", async () => {
    const first = await QmpClient.connect(q.qmp, { timeoutMs: 5000 });
    try {
      const e = await rejectsWith(QmpClient.connect(q.qmp, { timeoutMs: 300 }), VmmError);
      expect(e.code).toBe("E_VMM_TIMEOUT");
      expect(e.message).toContain("no greeting within 300 ms (QEMU serves one QMP client at a time: is another one connected?)");
    } finally {
      first.close();
    }
    const again = await QmpClient.connect(q.qmp, { timeoutMs: 5000 });
    again.close();
  });
});

const GREETING = '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}\n';

/** Greets, accepts capabilities, then hands each later command line to `answer`. */
function qmpLike(answer: (c: net.Socket, cmd: { execute: string; id?: number }) => void) {
  return (c: net.Socket) => {
    c.write(GREETING);
    let buf = "";
    c.on("data", (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const cmd = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (cmd.execute === "qmp_capabilities") c.write(JSON.stringify({ return: {}, id: cmd.id }) + "\n");
        else answer(c, cmd);
      }
    });
  };
}

describe("hostile and broken QMP sockets", () => {
  test("no socket, a stale socket file, a regular file: E_VMM_UNREACHABLE naming the path", async () => {
    const missing = await rejectsWith(QmpClient.connect(join(d.path, "none.sock"), { timeoutMs: 1000 }), VmmError);
    expect(missing.code).toBe("E_VMM_UNREACHABLE");
    expect(missing.message).toContain(`no socket at ${join(d.path, "none.sock")}`);
    const stalePath = await staleSocket(join(d.path, "stale.sock"));
    const stale = await rejectsWith(QmpClient.connect(stalePath, { timeoutMs: 1000 }), VmmError);
    expect(stale.code).toBe("E_VMM_UNREACHABLE");
    expect(stale.message).toContain(`nothing listens on ${stalePath}`);
    writeFileSync(join(d.path, "plain-file"), "not a socket");
    const plain = await rejectsWith(QmpClient.connect(join(d.path, "plain-file"), { timeoutMs: 1000 }), VmmError);
    expect(plain.code).toBe("E_VMM_UNREACHABLE");
  });

  test("a socket that never says anything: E_VMM_TIMEOUT at the deadline", async () => {
    const s = await fakeServer(d.path, "silent.sock", () => {});
    const t0 = performance.now();
    const e = await rejectsWith(QmpClient.connect(s.path, { timeoutMs: 200 }), VmmError);
    expect(e.code).toBe("E_VMM_TIMEOUT");
    expect(performance.now() - t0).toBeLessThan(5000);
    await s.close();
  });

  test("garbage instead of a greeting: E_VMM_PROTOCOL, with control characters escaped", async () => {
    const s = await fakeServer(d.path, "garbage.sock", (c) => c.write("HTTP/1.1 400 Bad Request\x1b[2J\r\n"));
    const e = await rejectsWith(QmpClient.connect(s.path, { timeoutMs: 2000 }), VmmError);
    expect(e.code).toBe("E_VMM_PROTOCOL");
    expect(e.message).toContain("not a JSON line: HTTP/1.1 400 Bad Request\\e[2J");
    expect(e.message).not.toContain("\x1b");
    await s.close();
  });

  test("JSON that is not a greeting, and JSON that is not an object", async () => {
    const a = await fakeServer(d.path, "nogreet.sock", (c) => c.write('{"return": {}}\n'));
    expect((await rejectsWith(QmpClient.connect(a.path, { timeoutMs: 2000 }), VmmError)).message).toContain("the first line is not a QMP greeting");
    const b = await fakeServer(d.path, "array.sock", qmpLike((c) => c.write("[1, 2]\n")));
    const qb = await QmpClient.connect(b.path, { timeoutMs: 2000 });
    const e = await rejectsWith(qb.execute("stop"), VmmError);
    expect(e.code).toBe("E_VMM_PROTOCOL");
    expect(e.message).toContain("not a JSON object");
    expect(qb.closed).toBe(true);
    await Promise.all([a.close(), b.close()]);
  });

  test("an endless line: dropped at the line cap (memory stays bounded), not buffered forever", async () => {
    const s = await fakeServer(
      d.path,
      "flood.sock",
      qmpLike((c) => {
        const chunk = Buffer.alloc(64 * 1024, 0x41);
        const pump = () => {
          while (!c.destroyed && c.write(chunk));
          if (!c.destroyed) c.once("drain", pump);
        };
        pump();
      }),
    );
    const qmp = await QmpClient.connect(s.path, { timeoutMs: 2000, maxLineBytes: 1024 * 1024 });
    const e = await rejectsWith(qmp.execute("query-status", undefined, { timeoutMs: 20_000 }), VmmError);
    expect(e.code).toBe("E_VMM_PROTOCOL");
    expect(e.message).toContain("a line of over 1048576 bytes without a newline");
    await s.close();
  });

  test("a command that is never answered times out; its late answer is dropped and the next command gets its own", async () => {
    let held: { c: net.Socket; id?: number } | null = null;
    const s = await fakeServer(
      d.path,
      "slow.sock",
      qmpLike((c, cmd) => {
        if (cmd.execute === "stop") held = { c, id: cmd.id };
        else c.write(JSON.stringify({ return: { status: "running", running: true }, id: cmd.id }) + "\n");
      }),
    );
    const qmp = await QmpClient.connect(s.path, { timeoutMs: 2000 });
    const e = await rejectsWith(qmp.execute("stop", undefined, { timeoutMs: 100 }), VmmError);
    expect(e.code).toBe("E_VMM_TIMEOUT");
    expect(e.message).toBe("QMP stop: no answer within 100 ms");
    held!.c.write(JSON.stringify({ return: {}, id: held!.id }) + "\n");
    expect(await qmp.execute("query-status")).toEqual({ status: "running", running: true });
    qmp.close();
    await s.close();
  });

  test("QEMU going away mid-command: E_VMM_CLOSED for the command, and for the next one", async () => {
    const s = await fakeServer(d.path, "dies.sock", qmpLike((c) => c.destroy()));
    const qmp = await QmpClient.connect(s.path, { timeoutMs: 2000 });
    const e = await rejectsWith(qmp.execute("migrate", { uri: "exec:cat > /dev/null" }), VmmError);
    expect(e.code).toBe("E_VMM_CLOSED");
    expect(e.message).toContain("QMP migrate");
    expect((await rejectsWith(qmp.execute("cont"), VmmError)).message).toContain("QMP cont: the connection is closed");
    await s.close();
  });
});
