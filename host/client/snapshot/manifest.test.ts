// Manifests: corrupted or mismatched ones are refused before anything is loaded; the write is atomic and never clobbers.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../../agent/testing.ts";
import { FakeFirecracker } from "../vmm/fake-firecracker.ts";
import { FirecrackerDriver } from "../vmm/firecracker-driver.ts";
import { describeFiles, ManifestError, MANIFEST_FORMAT, readManifest, writeManifest, type Manifest } from "./manifest.ts";
import { restoreSnapshot } from "./restore.ts";
import { LoopError } from "./steps.ts";

const d = tempDir("mvm-manifest-");
afterAll(() => d.cleanup());

/** A whole Firecracker snapshot in a new directory, written the way takeSnapshot writes one. */
async function goodSnapshot(name: string, over: (m: Manifest) => unknown = (m) => m): Promise<string> {
  const dir = join(d.path, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "s1.vmstate"), JSON.stringify({ fake_firecracker_vmstate: 1, memory_bytes: 4, memory_sha256: new Bun.CryptoHasher("sha256").update("mem!").digest("hex") }));
  writeFileSync(join(dir, "s1.memory"), "mem!");
  const files = await describeFiles([
    { role: "vmstate", path: join(dir, "s1.vmstate") },
    { role: "memory", path: join(dir, "s1.memory") },
  ]);
  const m: Manifest = { format: MANIFEST_FORMAT, vm: "web1", vmm: { kind: "firecracker", version: "1.10.1" }, agent: { version: "0.1.0", build: "prod" }, created_at: "2026-11-28T10:00:00.000Z", files };
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(over(m)));
  return dir;
}

let fcN = 0;
/** Restore `dir` into a fresh fake Firecracker; the refusal, and the calls the fake saw. */
async function refusedRestore(dir: string, opts: { vm?: string; allowOtherVm?: boolean } = {}): Promise<{ error: LoopError; calls: string[] }> {
  const fc = await FakeFirecracker.start(join(d.path, `fc-${++fcN}.sock`));
  try {
    const e = await restoreSnapshot({
      vm: opts.vm ?? "web1",
      vmm: new FirecrackerDriver(fc.socket),
      agent: async () => {
        throw new Error("the agent must not be called");
      },
      dir,
      allowOtherVm: opts.allowOtherVm,
      callTimeoutMs: 1000,
      now: Date.now,
    }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(LoopError);
    return { error: e as LoopError, calls: fc.callNames };
  } finally {
    await fc.stop();
  }
}

describe("refused before anything is loaded", () => {
  const cases: { name: string; make: () => Promise<string>; want: string; vm?: string }[] = [
    { name: "no manifest (a half-written snapshot)", make: async () => { const dir = await goodSnapshot("none"); rmSync(join(dir, "manifest.json")); return dir; }, want: "holds no whole snapshot (the manifest is written last)" },
    { name: "not JSON", make: async () => { const dir = await goodSnapshot("notjson"); writeFileSync(join(dir, "manifest.json"), "{ \"format\": "); return dir; }, want: "manifest.json: not valid JSON" },
    { name: "an unknown top-level key", make: () => goodSnapshot("extra", (m) => ({ ...m, comment: "hi" })), want: "manifest.json: the top level: Unrecognized key: \"comment\" (comment)" },
    { name: "an unknown key in a file entry", make: () => goodSnapshot("extrafile", (m) => ({ ...m, files: [{ ...m.files[0], mode: 420 }, m.files[1]] })), want: "files[0]: Unrecognized key" },
    { name: "another format", make: () => goodSnapshot("format", (m) => ({ ...m, format: "mvm-snapshot/2" })), want: "format: Invalid input" },
    { name: "a file name that leaves the directory", make: () => goodSnapshot("escape", (m) => ({ ...m, files: [{ ...m.files[0], name: "../../etc/shadow" }, m.files[1]] })), want: "files[0].name: must be a plain file name in the snapshot directory" },
    { name: "a sha256 that is not hex", make: () => goodSnapshot("hex", (m) => ({ ...m, files: [m.files[0], { ...m.files[1], sha256: "xyz" }] })), want: "files[1].sha256: must be 64 lowercase hex digits" },
    { name: "a size of the wrong type", make: () => goodSnapshot("sizetype", (m) => ({ ...m, files: [{ ...m.files[0], size: "12" }, m.files[1]] })), want: "files[0].size: Invalid input: expected number, received string" },
    { name: "a missing file", make: async () => { const dir = await goodSnapshot("missing"); rmSync(join(dir, "s1.memory")); return dir; }, want: "files: s1.memory (memory) is missing" },
    { name: "a truncated file (wrong size)", make: async () => { const dir = await goodSnapshot("short"); truncateSync(join(dir, "s1.memory"), 2); return dir; }, want: "s1.memory (memory) is 2 bytes, the manifest says 4: the snapshot is damaged or incomplete" },
    { name: "a changed byte (right size, wrong sha256)", make: async () => { const dir = await goodSnapshot("flip"); writeFileSync(join(dir, "s1.memory"), "mem?"); return dir; }, want: "s1.memory (memory) has sha256" },
    { name: "a file replaced by a symlink", make: async () => { const dir = await goodSnapshot("link"); rmSync(join(dir, "s1.memory")); symlinkSync("/etc/hostname", join(dir, "s1.memory")); return dir; }, want: "s1.memory (memory) is not a regular file" },
    { name: "another VMM kind", make: () => goodSnapshot("kind", (m) => ({ ...m, vmm: { kind: "qemu", version: "7.2.22" }, files: [{ ...m.files[0], role: "state" }] })), want: "a qemu snapshot cannot be loaded by firecracker" },
    { name: "the roles of another kind", make: () => goodSnapshot("roles", (m) => ({ ...m, files: [m.files[0]] })), want: "a firecracker snapshot is vmstate + memory, this one lists vmstate" },
    { name: "the same file twice", make: () => goodSnapshot("twice", (m) => ({ ...m, files: [m.files[0], { ...m.files[0], role: "memory" }] })), want: "names must be distinct" },
    { name: "another VM", make: () => goodSnapshot("othervm"), vm: "web2", want: 'this is a snapshot of "web1", not of "web2" (--other-vm loads it anyway, as a clone)' },
    { name: "a manifest too big to be one", make: async () => { const dir = await goodSnapshot("huge"); writeFileSync(join(dir, "manifest.json"), " ".repeat(100 * 1024)); return dir; }, want: "bytes: not a manifest" },
    { name: "a manifest that is a directory", make: async () => { const dir = await goodSnapshot("mdir"); rmSync(join(dir, "manifest.json")); mkdirSync(join(dir, "manifest.json")); return dir; }, want: "manifest.json is not a regular file" },
  ];
  for (const c of cases)
    test(c.name, async () => {
      const { error, calls } = await refusedRestore(await c.make(), { vm: c.vm });
      expect(error.step).toBe("check");
      expect(error.cause).toBeInstanceOf(ManifestError);
      expect(error.message).toContain(c.want);
      expect(error.message).toContain("nothing was loaded");
      expect(calls).toEqual([]); // not even asked: the manifest is checked first
    });

  test("control characters in a manifest's keys reach no message raw", async () => {
    const dir = await goodSnapshot("ctl", (m) => ({ ...m, "\u001b[2Jx": 1 }));
    const { error } = await refusedRestore(dir);
    expect(error.message).not.toContain("\u001b");
    expect(error.message).toContain("\\e[2Jx");
  });

  test("another VM's snapshot loads with allowOtherVm (a clone)", async () => {
    const dir = await goodSnapshot("clone");
    const fc = await FakeFirecracker.start(join(d.path, "clone.sock"));
    const e = await restoreSnapshot({ vm: "web2", vmm: new FirecrackerDriver(fc.socket), agent: async () => Promise.reject(Object.assign(new Error("no agent"), { code: "E_NOT_A_SOCKET" })), dir, allowOtherVm: true, callTimeoutMs: 500, wakeTimeoutMs: 100, now: Date.now }).then(
      () => null,
      (err: LoopError) => err,
    );
    // It got past check and loaded; only the (absent) agent failed.
    expect(e?.step).toBe("wake");
    expect(e?.steps[0]!.detail).toContain('(a snapshot of web1)');
    expect(fc.callNames).toContain("PUT /snapshot/load");
    await fc.stop();
  });
});

describe("writeManifest", () => {
  test("written through a temp file and linked into place: no temp file left, and a manifest that appeared meanwhile is not clobbered", async () => {
    const dir = await goodSnapshot("atomic");
    const m = readManifest(dir);
    rmSync(join(dir, "manifest.json"));
    expect(writeManifest(dir, m, { overwrite: false })).toBeNull();
    expect(readManifest(dir)).toEqual(m);
    expect(readdirSync(dir).filter((n) => n.startsWith("."))).toEqual([]);
    const other = { ...m, created_at: "2027-01-01T00:00:00.000Z" };
    expect(() => writeManifest(dir, other, { overwrite: false })).toThrow("appeared while this snapshot was written");
    expect(readManifest(dir).created_at).toBe(m.created_at);
    expect(readdirSync(dir).filter((n) => n.startsWith("."))).toEqual([]);
    const old = writeManifest(dir, other, { overwrite: true });
    expect(old).toEqual(m);
    expect(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")).created_at).toBe("2027-01-01T00:00:00.000Z");
    expect(existsSync(join(dir, "s1.memory"))).toBe(true);
  });
});
