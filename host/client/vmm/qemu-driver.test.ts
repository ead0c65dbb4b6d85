// The QEMU driver against real QEMU processes (-M none): pause, migrate to a file, resume, restore into -incoming defer.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../../agent/testing.ts";
import { VmmError } from "./errors.ts";
import { migrationUri, QemuDriver } from "./qemu-driver.ts";
import { QEMU, rejectsWith, startQemu, warnIfNoQemu } from "./testing.ts";

const d = tempDir("mvm-qemu-driver-");
afterAll(() => d.cleanup());
warnIfNoQemu("the QEMU driver");


describe("migrationUri", () => {
  test("exec:cat with the path quoted for /bin/sh before 8.2; file: from 8.2 unless the path holds a comma", () => {
    expect(migrationUri("save", "/s/a.qemu-state", { major: 7, minor: 2 })).toBe("exec:umask 077; cat > '/s/a.qemu-state' || rm -f '/s/a.qemu-state'");
    expect(migrationUri("load", "/s/it's $(x).qemu-state", { major: 8, minor: 1 })).toBe(`exec:exec cat '/s/it'\\''s $(x).qemu-state'`);
    expect(migrationUri("save", "/s/a.qemu-state", { major: 8, minor: 2 })).toBe("file:/s/a.qemu-state");
    expect(migrationUri("load", "/s/a.qemu-state", { major: 9, minor: 0 })).toBe("file:/s/a.qemu-state");
    expect(migrationUri("save", "/s/a,b.qemu-state", { major: 9, minor: 0 })).toBe("exec:umask 077; cat > '/s/a,b.qemu-state' || rm -f '/s/a,b.qemu-state'");
    expect(() => migrationUri("save", "/s/a\nb", { major: 7, minor: 2 })).toThrow("control characters");
  });
});

describe.skipIf(!QEMU)("against real QEMU", () => {
  test("snapshot (stop, migrate to a file, cont) then restore into a new QEMU started with -incoming defer -S", async () => {
    // A directory name a shell would love to run: the state must land in it, and nothing may run.
    const dir = join(d.path, "it's $(touch PWNED) dir");
    mkdirSync(dir);
    const src = await startQemu(d.path, "src");
    const drv = new QemuDriver(src.qmp);
    try {
      const info = await drv.info();
      expect(info.kind).toBe("qemu");
      expect(info.version).toMatch(/^\d+\.\d+\.\d+$/);
      expect(info).toMatchObject({ state: "running", running: true, waiting: false });
      const files = drv.files(dir, "s1");
      expect(files).toEqual([{ role: "state", path: join(dir, "s1.qemu-state") }]);
      expect(await drv.pause()).toBe("QMP stop: status paused");
      expect(await drv.writeSnapshot(files, { timeoutMs: 30_000 })).toContain("completed");
      expect(readFileSync(files[0]!.path).subarray(0, 4).toString("latin1")).toBe("QEVM"); // QEMU's migration stream magic
      expect(statSync(files[0]!.path).mode & 0o077).toBe(0); // umask 077: guest memory is for QEMU's user only
      expect(existsSync(join(d.path, "PWNED")) || existsSync("PWNED") || existsSync(join(dir, "PWNED"))).toBe(false);
      expect((await drv.info()).state).toBe("postmigrate");
      expect(await drv.resume()).toBe("QMP cont: status running");
      // A restore into a running QEMU is refused before anything is loaded.
      expect((await rejectsWith(drv.restore(files, { timeoutMs: 5000 }), VmmError)).message).toContain("QEMU is not waiting for state (status running): start a new QEMU with the same devices and -incoming defer");

      const dst = await startQemu(d.path, "dst", { incoming: true });
      const drv2 = new QemuDriver(dst.qmp);
      try {
        expect(await drv2.info()).toMatchObject({ state: "inmigrate", running: false, waiting: true });
        expect(await drv2.restore(files, { timeoutMs: 30_000 })).toContain("cont: status running");
        expect((await drv2.info()).state).toBe("running");
      } finally {
        await drv2.close();
        await dst.kill();
      }
    } finally {
      await drv.close();
      await src.kill();
    }
  });

  test("the migration speed limit is lifted for the write and put back after", async () => {
    const q = await startQemu(d.path, "bw");
    const drv = new QemuDriver(q.qmp);
    try {
      await drv.pause();
      await drv.writeSnapshot(drv.files(d.path, "bw"), { timeoutMs: 30_000 });
      await drv.close();
      const { QmpClient } = await import("./qmp.ts");
      const qmp = await QmpClient.connect(q.qmp);
      const p = (await qmp.execute("query-migrate-parameters")) as { "max-bandwidth": number };
      expect(p["max-bandwidth"]).toBe(134217728);
      qmp.close();
    } finally {
      await q.kill();
    }
  });

  test("a write that fails (no such directory) is E_VMM_FAILED, broken pipe or not; recover lets the VM run again", async () => {
    const q = await startQemu(d.path, "fail");
    const drv = new QemuDriver(q.qmp);
    try {
      await drv.pause();
      const e = await rejectsWith(drv.writeSnapshot(drv.files(join(d.path, "missing-dir"), "x"), { timeoutMs: 30_000 }), VmmError);
      expect(e.code).toBe("E_VMM_FAILED");
      // Which one depends on whether QEMU's last write beats the shell's exit: a broken pipe, or "completed"
      // with no file (QEMU 7.2 ignores the command's exit status). Both must end as E_VMM_FAILED.
      const missing = `QMP migrate: completed, but ${join(d.path, "missing-dir", "x.qemu-state")} was not written (can QEMU's user write there? is the disk full?)`;
      expect([missing, "QMP migrate: the migration failed: Unable to write to command: Broken pipe"]).toContain(e.message);
      expect(await drv.recover()).toContain("QMP cont (was");
      expect((await drv.info()).running).toBe(true);
      expect(await drv.recover()).toBe("the VM was running");
    } finally {
      await drv.close();
      await q.kill();
    }
  });

  test("a state file that is not a migration stream: QEMU exits, and the restore says so, naming migrate-incoming", async () => {
    const bogus = join(d.path, "bogus.qemu-state");
    await Bun.write(bogus, "not a migration stream");
    const q = await startQemu(d.path, "bogus", { incoming: true });
    const drv = new QemuDriver(q.qmp);
    try {
      const e = await rejectsWith(drv.restore([{ role: "state", path: bogus }], { timeoutMs: 10_000 }), VmmError);
      expect(e.code).toBe("E_VMM_FAILED");
      expect(e.message).toContain("QMP migrate-incoming: QEMU went away while loading");
    } finally {
      await drv.close();
      await q.kill();
    }
  });

  test("a QEMU killed mid-way: the next call is E_VMM_CLOSED or E_VMM_UNREACHABLE, never a hang", async () => {
    const q = await startQemu(d.path, "dies");
    const drv = new QemuDriver(q.qmp, { callTimeoutMs: 2000 });
    await drv.info();
    await q.kill();
    const e = await rejectsWith(drv.pause(), VmmError);
    expect(["E_VMM_CLOSED", "E_VMM_UNREACHABLE"]).toContain(e.code);
    await drv.close();
  });
});
