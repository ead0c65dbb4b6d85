// sd_notify: a real unix datagram receiver (checked first against systemd's own systemd-notify) hears the
// agent process's READY=1 and STOPPING=1; commands do not inherit NOTIFY_SOCKET; bad values only warn.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { freshPing, spawnAgent } from "../test/support/index.ts";
import { takeNotifySocket } from "./notify.ts";
import { NotifyReceiver as Receiver } from "./notify-testing.ts";
import { tempDir, waitFor } from "./testing.ts";

const d = tempDir("mvm-notify-");
afterAll(() => d.cleanup());
let seq = 0;
const abstractName = () => `@mvm-notify-test-${process.pid}-${++seq}`;

const systemdNotify = Bun.which("systemd-notify");
if (!systemdNotify)
  console.warn("\n!!! SKIPPED: the receiver is NOT checked against systemd-notify: it is not installed (apt-get install systemd).\n");

describe.skipIf(!systemdNotify)("the receiver, checked against systemd-notify", () => {
  for (const kind of ["path", "abstract"] as const)
    test(`systemd-notify --ready reaches it (${kind})`, async () => {
      const r = new Receiver(kind === "path" ? join(d.path, `sd-${++seq}.sock`) : abstractName());
      try {
        // Not spawnSync: after READY=1, systemd-notify waits for its BARRIER=1 datagram to be read.
        const p = Bun.spawn([systemdNotify!, "--ready"], { env: { PATH: "/usr/bin:/bin", NOTIFY_SOCKET: r.address }, stderr: "pipe" });
        expect(await r.next("systemd-notify's datagram")).toBe("READY=1");
        await waitFor(() => r.poll().length >= 2, 30_000, "the barrier");
        expect([await p.exited, await new Response(p.stderr).text()]).toEqual([0, ""]);
        expect(r.messages).toEqual(["READY=1", "BARRIER=1"]);
      } finally {
        r.close();
      }
    });
});

describe("the agent process", () => {
  for (const kind of ["path", "abstract"] as const)
    test(`READY=1 once it serves, STOPPING=1 on SIGTERM (${kind}); its commands do not inherit NOTIFY_SOCKET`, async () => {
      const r = new Receiver(kind === "path" ? join(d.path, `agent-${++seq}.sock`) : abstractName());
      const envFile = join(d.path, `env-${seq}.txt`);
      const a = await spawnAgent({ files: { "integrations.d/env.json": { name: "env", health_cmd: `env > ${envFile}`, health_interval_secs: 3600 } }, env: { NOTIFY_SOCKET: r.address } });
      try {
        expect(await r.next("READY=1")).toBe("READY=1");
        expect(await freshPing(a.socket)).toBe(true);
        await waitFor(() => existsSync(envFile) && readFileSync(envFile, "utf8").includes("PATH="), 30_000, "the health command's environment");
        expect(readFileSync(envFile, "utf8")).not.toContain("NOTIFY_SOCKET");
        expect(await a.stop()).toBe(0);
        expect(await r.next("STOPPING=1")).toBe("STOPPING=1");
        expect(r.poll()).toEqual(["READY=1", "STOPPING=1"]);
        expect(a.console()).not.toContain("WARN");
      } finally {
        await a.stop();
        r.close();
      }
    });

  test("a NOTIFY_SOCKET nobody listens on: one warning naming it, and the agent serves", async () => {
    const gone = join(d.path, "nobody.sock");
    const a = await spawnAgent({ env: { NOTIFY_SOCKET: gone } });
    let stopped: number | null = null;
    try {
      expect(await freshPing(a.socket)).toBe(true);
      // The whole line: stderr may arrive in pieces.
      const warning = `WARN  core cannot notify systemd (READY=1 to ${gone}): sendto: ENOENT\n`;
      await waitFor(() => a.console().includes(warning), 30_000, "the warning");
      expect(a.console().split(warning)).toHaveLength(2); // once
      stopped = await a.stop();
    } catch (e) {
      throw new Error(`${(e as Error).message}\nthe agent: exit code ${a.exitCode()}; its console:\n${a.console()}`);
    } finally {
      await a.stop();
    }
    expect(stopped).toBe(0);
  });
});

describe("takeNotifySocket (hostile values)", () => {
  const take = (value: string | undefined) => {
    const env: Record<string, string | undefined> = { NOTIFY_SOCKET: value, OTHER: "x" };
    const warned: string[] = [];
    const notify = takeNotifySocket(env, (m) => warned.push(m));
    return { env, warned, notify };
  };

  test("unset or empty: nothing is sent and nothing is said", () => {
    for (const v of [undefined, ""]) {
      const t = take(v);
      t.notify("READY=1");
      expect(t.warned).toEqual([]);
      expect(t.env).toEqual({ OTHER: "x" });
    }
  });

  test("forms systemd may use that this does not speak, and addresses that do not fit, are one warning each", () => {
    const cases: [string, string][] = [
      ["run/notify", "is neither an absolute path nor @abstract"],
      ["vsock:2:1234", "is neither an absolute path nor @abstract"],
      ["/" + "a".repeat(200), "is 201 bytes; a unix socket address holds 1 to 107"],
      ["@", "is 0 bytes"],
      ["/run/\0x", "holds a NUL byte"],
    ];
    for (const [value, said] of cases) {
      const t = take(value);
      t.notify("READY=1");
      t.notify("STOPPING=1");
      expect(t.warned).toHaveLength(1);
      expect(t.warned[0]).toContain(said);
      expect(t.env).toEqual({ OTHER: "x" });
    }
  });

  test("a stream socket at the path: the send fails with its errno, as a warning", async () => {
    const path = join(d.path, "stream.sock");
    const server = net.createServer().listen(path);
    await new Promise((r) => server.once("listening", r));
    try {
      const t = take(path);
      t.notify("READY=1");
      expect(t.warned).toEqual([`cannot notify systemd (READY=1 to ${path}): sendto: EPROTOTYPE`]);
    } finally {
      server.close();
    }
  });

  test("a receiver that never reads cannot block the sender: a full queue is EAGAIN, at once", () => {
    const r = new Receiver(abstractName());
    try {
      const t = take(r.address);
      let sent = 0;
      // Each datagram costs the receiver's buffer far more than its 7 bytes; a few thousand fill it.
      while (t.warned.length === 0 && sent < 100_000) {
        t.notify("READY=1");
        sent++;
      }
      expect(t.warned).toEqual([`cannot notify systemd (READY=1 to ${r.address}): sendto: EAGAIN`]);
      expect(sent).toBeLessThan(100_000);
      expect(r.poll().length).toBe(sent - 1);
    } finally {
      r.close();
    }
  });
});
