// Attack: `wake` with wall_clock moving the clock of a host (issue 15): an agent serving only unix
// sockets (a container, a host, the demo) must leave the clock alone unless told --set-clock.
// The agents run without CAP_SYS_TIME (setpriv), so a wrong answer can never move this machine's clock:
// an attempt shows as clock_settime's EPERM ("failed"), no attempt as "not_in_vm".

import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "../../agent/testing.ts";
import { spawnAgent } from "../support/index.ts";

const hasSetpriv = Bun.spawnSync(["setpriv", "--version"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
const d = tempDir("mvm-clock-");
afterAll(() => d.cleanup());

/** Start an agent without CAP_SYS_TIME with these extra args; send wake with a wall clock far ahead; stop it. */
async function wakeWith(extra: string[]): Promise<{ clock_set: boolean; clock_not_set: string | null; steps: { name: string; detail: string }[] }> {
  // hostSafe off: these tests choose --set-clock themselves (drop_caches still goes to a temp file).
  const proc = await spawnAgent({ wrap: ["setpriv", "--inh-caps=-sys_time", "--bounding-set=-sys_time"], hostSafe: false, args: [...extra, "--drop-caches-path", join(d.path, "dc")] });
  try {
    const c = await proc.connect();
    try {
      const a = await c.request({ type: "wake", id: 1, params: { wall_clock: "2031-01-01T00:00:00Z" } });
      expect(a.ok).toBe(true);
      return a.result;
    } finally {
      c.close();
    }
  } finally {
    await proc.stop();
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
