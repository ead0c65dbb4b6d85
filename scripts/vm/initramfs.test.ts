// The initramfs pieces without a VM: the newc writer read back, the module closure from modules.dep, ldd parsing.

import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../agent/testing.ts";
import { writeCpio } from "./cpio.ts";
import { moduleClosure, sharedLibraries } from "./initramfs.ts";

/** A strict newc reader: every header, name and body at its 4-byte-aligned offset, up to TRAILER!!!. */
function readNewc(buf: Buffer): { name: string; mode: number; size: number; rdev: [number, number]; body: Buffer }[] {
  const out = [];
  let off = 0;
  for (;;) {
    expect(off % 4).toBe(0);
    expect(buf.toString("latin1", off, off + 6)).toBe("070701");
    const field = (i: number) => parseInt(buf.toString("latin1", off + 6 + i * 8, off + 14 + i * 8), 16);
    const [mode, size, rmaj, rmin, namesize] = [field(1), field(6), field(9), field(10), field(11)];
    const name = buf.toString("utf8", off + 110, off + 110 + namesize - 1);
    expect(buf[off + 110 + namesize - 1]).toBe(0);
    off = (off + 110 + namesize + 3) & ~3;
    const body = buf.subarray(off, off + size);
    off = (off + size + 3) & ~3;
    if (name === "TRAILER!!!") break;
    out.push({ name, mode, size, rdev: [rmaj, rmin] as [number, number], body });
  }
  expect(off).toBe(buf.length);
  return out;
}

describe("writeCpio", () => {
  test("dirs, files (inline and copied in chunks), symlinks and device nodes read back exactly", () => {
    const d = tempDir();
    try {
      const big = join(d.path, "big.bin");
      const data = Buffer.alloc((1 << 20) * 2 + 3, 7); // over the 1 MiB copy chunk, odd length
      writeFileSync(big, data);
      const out = join(d.path, "a.cpio");
      const bytes = writeCpio(out, [
        { kind: "dir", path: "/bin" },
        { kind: "file", path: "init", mode: 0o755, data: "#!/bin/sh\n" },
        { kind: "copy", path: "bin/big", from: big, size: data.length },
        { kind: "symlink", path: "bin/sh", target: "busybox" },
        { kind: "chardev", path: "dev-console", major: 5, minor: 1 },
      ]);
      const buf = readFileSync(out);
      expect(bytes).toBe(buf.length);
      const entries = readNewc(buf);
      expect(entries.map((e) => e.name)).toEqual(["bin", "init", "bin/big", "bin/sh", "dev-console"]);
      expect(entries[0]!.mode).toBe(0o040755);
      expect(entries[1]!.mode).toBe(0o100755);
      expect(entries[1]!.body.toString()).toBe("#!/bin/sh\n");
      expect(entries[2]!.size).toBe(data.length);
      expect(entries[2]!.body.equals(data)).toBe(true);
      expect(entries[3]!.mode).toBe(0o120777);
      expect(entries[3]!.body.toString()).toBe("busybox");
      expect(entries[4]!.mode & 0o170000).toBe(0o020000);
      expect(entries[4]!.rdev).toEqual([5, 1]);
    } finally {
      d.cleanup();
    }
  });

  test("a source file shorter than announced is an error naming it", () => {
    const d = tempDir();
    try {
      const f = join(d.path, "short");
      writeFileSync(f, "abc");
      expect(() => writeCpio(join(d.path, "x.cpio"), [{ kind: "copy", path: "x", from: f, size: 10 }])).toThrow(/short.*shorter than 10 bytes/);
    } finally {
      d.cleanup();
    }
  });
});

describe("moduleClosure", () => {
  test("dependencies come first, each once; names match with - or _; unknown modules are named", () => {
    const d = tempDir();
    try {
      const dir = join(d.path, "6.1.0-test");
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, "modules.dep"),
        [
          "kernel/net/vsock_loopback.ko: kernel/net/vmw_vsock_virtio_transport_common.ko kernel/net/vsock.ko",
          "kernel/net/vmw_vsock_virtio_transport_common.ko: kernel/net/vsock.ko",
          "kernel/net/vsock.ko:",
          "kernel/fs/overlay.ko:",
          "kernel/drivers/virtio-pci.ko: kernel/drivers/virtio.ko",
          "kernel/drivers/virtio.ko:",
          "",
        ].join("\n"),
      );
      writeFileSync(join(dir, "modules.builtin"), "kernel/drivers/virtio_console.ko\n");
      expect(moduleClosure(dir, ["virtio_pci", "overlay", "vsock_loopback", "virtio_console"])).toEqual([
        "kernel/drivers/virtio.ko",
        "kernel/drivers/virtio-pci.ko",
        "kernel/fs/overlay.ko",
        "kernel/net/vsock.ko",
        "kernel/net/vmw_vsock_virtio_transport_common.ko",
        "kernel/net/vsock_loopback.ko",
      ]);
      expect(() => moduleClosure(dir, ["nope"])).toThrow(/kernel module nope is not in .*modules\.dep/);
      expect(() => moduleClosure(join(d.path, "missing"), ["x"])).toThrow(/modules\.dep is missing/);
    } finally {
      d.cleanup();
    }
  });
});

describe("sharedLibraries", () => {
  test("lists libc and the loader of a dynamic binary (bun itself), as absolute paths", () => {
    const libs = sharedLibraries(process.execPath);
    expect(libs.some((l) => /\/libc\.so\.6$/.test(l))).toBe(true);
    expect(libs.some((l) => /ld-linux/.test(l))).toBe(true);
    expect(libs.every((l) => l.startsWith("/"))).toBe(true);
  });
});
