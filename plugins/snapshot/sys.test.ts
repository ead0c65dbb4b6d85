// Tests of the real system calls: libc sync through bun:ffi, the sync binary fallback, drop_caches writes, clock_settime.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runCommand } from "../../agent/command.ts";
import { tempDir } from "../../agent/testing.ts";
import { CLOCK_REALTIME, clockSettime, defaultSys, errnoName, loadLibc, timespecOf } from "./sys.ts";

describe("defaultSys", () => {
  test("sync calls libc sync() through bun:ffi", async () => {
    expect(loadLibc()).not.toBeNull();
    expect(await defaultSys(runCommand).sync({ timeoutMs: 10_000 })).toBe("libc sync()");
  });

  test("without a libc, sync runs the sync binary through the runner", async () => {
    const specs: unknown[] = [];
    const sys = defaultSys((spec) => (specs.push(spec), runCommand(spec)), { libc: null });
    expect(await sys.sync({ timeoutMs: 10_000 })).toBe("sync binary (no libc for bun:ffi)");
    expect(specs).toEqual([{ argv: ["sync"], timeoutMs: 10_000, maxOutputBytes: 4096 }]);
  });

  test("a failing sync binary is an error naming the failure", async () => {
    const sys = defaultSys(() => runCommand({ command: "echo disk gone >&2; exit 1" }), { libc: null });
    await expect(sys.sync({ timeoutMs: 1000 })).rejects.toThrow("sync binary: exit 1: disk gone");
  });

  test("dropCaches writes 3 to the file; a missing directory rejects with its errno", async () => {
    const d = tempDir();
    try {
      const sys = defaultSys(runCommand);
      await sys.dropCaches(join(d.path, "drop_caches"));
      expect(readFileSync(join(d.path, "drop_caches"), "utf8")).toBe("3");
      await expect(sys.dropCaches(join(d.path, "no/such/dir"))).rejects.toMatchObject({ code: "ENOENT" });
    } finally {
      d.cleanup();
    }
  });
});

describe("clock_settime", () => {
  test("timespecOf splits ms into seconds and nanoseconds", () => {
    expect([...timespecOf(1_764_327_439_123)]).toEqual([1_764_327_439n, 123_000_000n]);
    expect([...timespecOf(0)]).toEqual([0n, 0n]);
    expect([...timespecOf(1500.5)]).toEqual([1n, 500_500_000n]);
  });

  // The kernel validates the timespec before it checks permission or touches the clock, so an
  // out-of-range nanosecond field exercises the real ffi call and errno read without moving the clock.
  test("the real call reports the kernel's errno (EINVAL for nsec >= 1e9, clock untouched)", () => {
    const before = Date.now();
    expect(clockSettime(CLOCK_REALTIME, new BigInt64Array([BigInt(Math.floor(before / 1000)), 1_000_000_000n]))).toBe("EINVAL");
    expect(Math.abs(Date.now() - before)).toBeLessThan(60_000);
  });

  test("errno names", () => {
    expect(errnoName(1)).toBe("EPERM");
    expect(errnoName(22)).toBe("EINVAL");
    expect(errnoName(99999)).toBe("errno 99999");
  });
});
