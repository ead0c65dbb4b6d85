// DIR/manifest.json: what a whole snapshot is (VM, VMM, agent, time, files with size and sha256), written last and atomically, checked before a load.

import { closeSync, fsyncSync, linkSync, lstatSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { z } from "zod";
import { issuesText } from "../issues.ts";
import { SNAPSHOT_ROLES, type SnapshotFile, type VmmKind } from "../vmm/driver.ts";

export const MANIFEST_FILE = "manifest.json";
export const MANIFEST_FORMAT = "mvm-snapshot/1";
/** A manifest is a few hundred bytes; anything much bigger is not one. */
const MAX_MANIFEST_BYTES = 64 * 1024;

/** A file name inside DIR: no separator, no `..`, not hidden. */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const ManifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  vm: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be a VM name"),
  vmm: z.strictObject({ kind: z.enum(["qemu", "firecracker"]), version: z.string().min(1).max(100) }),
  agent: z.strictObject({ version: z.string().min(1).max(100), build: z.enum(["prod", "dev"]) }),
  created_at: z.iso.datetime({ offset: true }),
  files: z
    .array(
      z.strictObject({
        role: z.string().min(1).max(32),
        name: z.string().regex(FILE_NAME, "must be a plain file name in the snapshot directory"),
        size: z.number().int().nonnegative(),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits"),
      }),
    )
    .min(1)
    .max(8),
});

export type Manifest = z.output<typeof ManifestSchema>;

/** A manifest that is missing, unreadable, malformed, or does not match its files or the VM; nothing was loaded. */
export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ManifestError";
  }
}

/**
 * Size and sha256 of a regular file (a symlink is refused: the manifest describes files in DIR).
 * @example const { size, sha256 } = await hashFile("/srv/snap/s1.qemu-state");
 */
async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  const st = lstatSync(path);
  if (!st.isFile()) throw new ManifestError(`${path} is not a regular file`);
  const h = new Bun.CryptoHasher("sha256");
  let size = 0;
  for await (const chunk of Bun.file(path).stream()) {
    h.update(chunk);
    size += chunk.byteLength;
  }
  return { size, sha256: h.digest("hex") };
}

/** Flush a file (or directory) to the disk; a file we may not open for that is left to the page cache. */
function fsyncPath(path: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(path, "r");
    fsyncSync(fd);
  } catch {
    // not ours to open (another user's file without read permission): the sha256 check on restore still catches a torn file
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/**
 * Hash the snapshot's files and describe them. The files are flushed to the disk first: a manifest
 * must never outlive the data it vouches for.
 */
export async function describeFiles(files: SnapshotFile[]): Promise<Manifest["files"]> {
  const out: Manifest["files"] = [];
  for (const f of files) {
    fsyncPath(f.path);
    const { size, sha256 } = await hashFile(f.path);
    out.push({ role: f.role, name: f.path.slice(f.path.lastIndexOf("/") + 1), size, sha256 });
  }
  return out;
}

/**
 * Write DIR/manifest.json last and atomically: a temp file, flushed, then linked into place (which fails
 * if a manifest appeared meanwhile) or, with `overwrite`, renamed over the old one. Returns the old
 * manifest it replaced (its files are then the caller's to delete), or null.
 */
export function writeManifest(dir: string, m: Manifest, opts: { overwrite: boolean }): Manifest | null {
  const final = join(dir, MANIFEST_FILE);
  const tmp = join(dir, `.${MANIFEST_FILE}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  writeFileSync(tmp, JSON.stringify(m, null, 2) + "\n", { mode: 0o600, flag: "wx" });
  fsyncPath(tmp);
  let old: Manifest | null = null;
  try {
    if (opts.overwrite) {
      try {
        old = readManifest(dir);
      } catch {
        old = null; // an unreadable old manifest: its files are left alone
      }
      renameSync(tmp, final);
    } else {
      try {
        linkSync(tmp, final);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new ManifestError(`${final} appeared while this snapshot was written (another snapshot into the same directory?); this one was not recorded`);
        throw e;
      }
      unlinkSync(tmp);
    }
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {}
    throw e;
  }
  fsyncPath(dir);
  return old;
}

function issuePath(path: PropertyKey[]): string {
  return path.length ? path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "") : "the top level";
}

/** Read and check DIR/manifest.json (a regular file under 64 KiB, strict schema); ManifestError names the file and the field. */
export function readManifest(dir: string): Manifest {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    const st = lstatSync(path);
    if (!st.isFile()) throw new ManifestError(`${path} is not a regular file`);
    if (st.size > MAX_MANIFEST_BYTES) throw new ManifestError(`${path} is ${st.size} bytes: not a manifest (they are under ${MAX_MANIFEST_BYTES})`);
    text = readFileSync(path, "utf8");
  } catch (e) {
    if (e instanceof ManifestError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ManifestError(`${path} does not exist: ${dir} holds no whole snapshot (the manifest is written last)`);
    throw new ManifestError(`${path}: cannot read: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ManifestError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  const r = ManifestSchema.safeParse(raw);
  if (!r.success) throw new ManifestError(`${path}: ${issuesText(r.error.issues, issuePath)}`);
  return r.data;
}

/**
 * Check a manifest against what is about to load it and against its files, before anything is loaded:
 * the VMM kind, the VM (unless `allowOtherVm`), the roles that kind needs, and for each file that it is a
 * regular file of the recorded size and sha256. Resolves with the files to load.
 */
export async function verifyManifest(dir: string, m: Manifest, want: { kind: VmmKind; vm: string; allowOtherVm?: boolean }): Promise<SnapshotFile[]> {
  const path = join(dir, MANIFEST_FILE);
  if (m.vmm.kind !== want.kind) throw new ManifestError(`${path}: a ${m.vmm.kind} snapshot cannot be loaded by ${want.kind} (vms.json gives ${want.vm} a ${want.kind} vmm)`);
  if (m.vm !== want.vm && !want.allowOtherVm)
    throw new ManifestError(`${path}: this is a snapshot of ${JSON.stringify(m.vm)}, not of ${JSON.stringify(want.vm)} (--other-vm loads it anyway, as a clone)`);
  const roles = m.files.map((f) => f.role);
  const need = SNAPSHOT_ROLES[want.kind];
  if (roles.length !== need.length || need.some((r, i) => roles[i] !== r)) throw new ManifestError(`${path}: files: a ${want.kind} snapshot is ${need.join(" + ")}, this one lists ${roles.join(" + ")}`);
  const names = new Set(m.files.map((f) => f.name));
  if (names.size !== m.files.length || names.has(MANIFEST_FILE)) throw new ManifestError(`${path}: files: names must be distinct and not ${MANIFEST_FILE}`);
  const out: SnapshotFile[] = [];
  for (const f of m.files) {
    const p = join(dir, f.name);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      throw new ManifestError(`${path}: files: ${f.name} (${f.role}) is missing`);
    }
    if (!st.isFile()) throw new ManifestError(`${path}: files: ${f.name} (${f.role}) is not a regular file`);
    if (st.size !== f.size) throw new ManifestError(`${path}: files: ${f.name} (${f.role}) is ${st.size} bytes, the manifest says ${f.size}: the snapshot is damaged or incomplete`);
    const { sha256 } = await hashFile(p);
    if (sha256 !== f.sha256) throw new ManifestError(`${path}: files: ${f.name} (${f.role}) has sha256 ${sha256}, the manifest says ${f.sha256}: the snapshot is damaged`);
    out.push({ role: f.role, path: p });
  }
  return out;
}
