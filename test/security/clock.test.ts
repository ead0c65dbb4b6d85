// Attack: `wake` with wall_clock moving the clock of a host (issue 15): an agent serving only unix
// sockets (a container, a host, the demo) must leave the clock alone unless told --set-clock.
// The agents run without CAP_SYS_TIME (setpriv), so a wrong answer can never move this machine's clock:
// an attempt shows as clock_settime's EPERM ("failed"), no attempt as "not_in_vm".

import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { RawClient, tempDir, waitFor } from "../../agent/testing.ts";

const root = join(import.meta.dir, "../..");
const hasSetpriv = Bun.spawnSync(["setpriv", "--version"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
const d = tempDir("mvm-clock-");
afterAll(() => d.cleanup());

let n = 0;
/** Start an agent without CAP_SYS_TIME with these extra args; send wake with a wall clock far ahead; stop it. */
async function wakeWith(extra: string[]): Promise<{ clock_set: boolean; clock_not_set: string | null; steps: { name: string; detail: string }[] }> {
  const sock = join(d.path, `a${++n}.sock`);
  const argv = ["setpriv", "--inh-caps=-sys_time", "--bounding-set=-sys_time", process.execPath, join(root, "agent/bin.ts"), "--listen", `unix:${sock}`, ...extra, "--config-dir", d.path, "--drop-caches-path", join(d.path, "dc")];
  const proc = Bun.spawn(argv, { stdout: "ignore", stderr: "pipe" });
  let log = "";
  void (async () => {
    for await (const ch of proc.stderr as ReadableStream<Uint8Array>) log += Buffer.from(ch).toString();
  })();
  try {
    await waitFor(() => log.includes("ready (") || proc.exitCode !== null, 30_000, "agent ready");
    const c = await RawClient.connect(sock);
    try {
      const a = await c.request({ type: "wake", id: 1, params: { wall_clock: "2031-01-01T00:00:00Z" } });
      expect(a.ok).toBe(true);
      return a.result;
    } finally {
      c.close();
    }
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

describe.skipIf(!hasSetpriv)("wake's clock step by listener kind", () => {
  test("unix sockets only: the clock is not touched, and the answer says why", async () => {
    const r = await wakeWith([]);
    expect(r).toMatchObject({ clock_set: false, clock_not_set: "not_in_vm" });
    expect(r.steps[0]!.detail).toStartWith("not set (the agent serves no vsock or serial listener");
  });

  test("--set-clock on a unix-only agent tries (EPERM here); --no-set-clock never does", async () => {
    expect(await wakeWith(["--set-clock"])).toMatchObject({ clock_set: false, clock_not_set: "failed" });
    expect(await wakeWith(["--no-set-clock"])).toMatchObject({ clock_set: false, clock_not_set: "no_set_clock" });
  });

  test("with a serial listener (in a VM) the agent sets the clock by default (EPERM here)", async () => {
    const port = join(d.path, "vport");
    expect(Bun.spawnSync(["mkfifo", port]).exitCode).toBe(0); // a stand-in for /dev/vportNpM
    const r = await wakeWith(["--listen", `serial:${port}`]);
    expect(r).toMatchObject({ clock_set: false, clock_not_set: "failed" });
    expect(r.steps[0]!.detail).toContain("EPERM");
  });
});
