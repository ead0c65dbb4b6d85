// The whole loop with a real QEMU (-M none: real QMP, real migration stream, no guest) and a real agent.

import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../../agent/testing.ts";
import { QemuDriver } from "../vmm/qemu-driver.ts";
import { QEMU, startQemu, warnIfNoQemu } from "../vmm/testing.ts";
import { readManifest } from "./manifest.ts";
import { restoreSnapshot } from "./restore.ts";
import { takeSnapshot } from "./snapshot.ts";
import { LoopError } from "./steps.ts";
import { loopAgent } from "../../testing.ts";

const d = tempDir("mvm-qemu-loop-");
afterAll(() => d.cleanup());
warnIfNoQemu("the snapshot loop with QEMU");

describe.skipIf(!QEMU)("QEMU", () => {
  test("snapshot --resume, snapshot --stop, kill, a new QEMU with -incoming defer, restore: wake and health", async () => {
    const agent = await loopAgent();
    const src = await startQemu(d.path, "src");
    try {
      const base = { vm: "web1", agent: agent.call, callTimeoutMs: 5000, now: Date.now };
      const r1 = await takeSnapshot({ ...base, vmm: new QemuDriver(src.qmp), dir: join(d.path, "one"), then: "resume" });
      expect(r1.steps.map((s) => s.step)).toEqual(["check", "sleep-prep", "pause", "write", "resume", "wake", "manifest"]);
      expect(r1.steps.find((s) => s.step === "write")!.detail).toContain("QMP migrate to exec:cat >");
      expect(r1.manifest.vmm.kind).toBe("qemu");
      expect(r1.manifest.files.map((f) => f.role)).toEqual(["state"]);
      expect(await agent.state()).toBe("running");

      const r2 = await takeSnapshot({ ...base, vmm: new QemuDriver(src.qmp), dir: join(d.path, "two"), then: "stop" });
      expect(r2.steps.find((s) => s.step === "stop")!.detail).toContain("left paused");
      expect(await agent.state()).toBe("sleeping");
      await src.kill();

      // Restoring into a QEMU that runs is refused at check; into one that waits, it loads.
      const wrong = await startQemu(d.path, "wrong");
      const e = await restoreSnapshot({ ...base, vmm: new QemuDriver(wrong.qmp), dir: join(d.path, "two") }).then(
        () => null,
        (err: LoopError) => err,
      );
      expect(e?.step).toBe("check");
      expect(e?.message).toContain("QEMU is not waiting for state (status running)");
      await wrong.kill();

      const dst = await startQemu(d.path, "dst", { incoming: true });
      try {
        const rr = await restoreSnapshot({ ...base, vmm: new QemuDriver(dst.qmp), dir: join(d.path, "two") });
        expect(rr.steps.map((s) => `${s.step}:${s.ok}`)).toEqual(["check:true", "load:true", "wake:true", "health:true"]);
        expect(rr.steps[1]!.detail).toContain("cont: status running");
        expect(rr.wake.was_sleeping).toBe(true);
        expect(agent.marker("restore")).toBe("restored");
        expect(rr.health?.ready).toBe(true);
        expect(readdirSync(join(d.path, "two")).sort()).toEqual(["manifest.json", readManifest(join(d.path, "two")).files[0]!.name].sort());
      } finally {
        await dst.kill();
      }
    } finally {
      await src.kill();
      await agent.close();
    }
  });
});
