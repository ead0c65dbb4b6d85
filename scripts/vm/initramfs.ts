// Build a test initramfs: busybox, kernel modules, glibc from ldd, our binaries, an overlay-root init.

import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { writeCpio, type CpioEntry } from "./cpio.ts";

export interface InitramfsOptions {
  /** Where the cpio archive goes. */
  out: string;
  /** `uname -r` of the kernel the modules belong to. */
  kernelVersion: string;
  /** Default /lib/modules. */
  modulesRoot?: string;
  /** Modules to modprobe in stage 1, in order. */
  modules?: string[];
  /** A statically linked busybox. */
  busybox: string;
  /** Host files to put in the root, e.g. `{ from: "dist/mvm-guest-agent", to: "/usr/local/bin/mvm-guest-agent" }`. */
  binaries: { from: string; to: string }[];
  /** Extra files in the root (`/etc/mvm/...`, `/www/index.html`). */
  files?: { path: string; data: string; mode?: number }[];
  /** busybox init `respawn` commands (services), each a shell command line. */
  services: string[];
}

export const DEFAULT_MODULES = ["virtio_pci", "virtio_console", "overlay", "vsock_loopback"];

const here = import.meta.dir;

/** Every shared library `ldd` lists for a binary, as absolute paths (the loader included). */
export function sharedLibraries(binary: string): string[] {
  const r = Bun.spawnSync(["ldd", binary], { stdout: "pipe", stderr: "pipe" });
  const text = r.stdout.toString();
  if (r.exitCode !== 0) {
    if (/not a dynamic executable/.test(text + r.stderr.toString())) return [];
    throw new Error(`ldd ${binary} failed: ${r.stderr.toString().trim() || text.trim()}`);
  }
  const libs: string[] = [];
  for (const line of text.split("\n")) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

/** The .ko files (relative to the modules dir) that `names` need, dependencies first, from modules.dep. */
export function moduleClosure(modulesDir: string, names: string[]): string[] {
  const depFile = join(modulesDir, "modules.dep");
  if (!existsSync(depFile)) throw new Error(`${depFile} is missing (is the kernel package installed?)`);
  const deps = new Map<string, string[]>();
  const byName = new Map<string, string>();
  for (const line of readFileSync(depFile, "utf8").split("\n")) {
    const i = line.indexOf(":");
    if (i < 0) continue;
    const ko = line.slice(0, i);
    deps.set(ko, line.slice(i + 1).trim().split(/\s+/).filter(Boolean));
    byName.set(basename(ko).replace(/\.ko(\.\w+)?$/, "").replace(/-/g, "_"), ko);
  }
  const out: string[] = [];
  const visit = (ko: string) => {
    if (out.includes(ko)) return;
    for (const d of deps.get(ko) ?? []) visit(d);
    out.push(ko);
  };
  for (const n of names) {
    const ko = byName.get(n.replace(/-/g, "_"));
    if (!ko) {
      if (builtin(modulesDir, n)) continue;
      throw new Error(`kernel module ${n} is not in ${depFile}`);
    }
    visit(ko);
  }
  return out;
}

function builtin(modulesDir: string, name: string): boolean {
  try {
    return readFileSync(join(modulesDir, "modules.builtin"), "utf8").split("\n").some((l) => basename(l).replace(/\.ko$/, "").replace(/-/g, "_") === name.replace(/-/g, "_"));
  } catch {
    return false;
  }
}

/** Applet paths of a busybox binary (`/bin/sh`, `/sbin/init`, ...). */
function busyboxApplets(busybox: string): string[] {
  const r = Bun.spawnSync([busybox, "--list-full"], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${busybox} --list-full failed: ${r.stderr.toString().trim()}`);
  return r.stdout.toString().split("\n").filter(Boolean);
}

/** Collects entries, creating parent directories on first use. */
class Tree {
  readonly entries: CpioEntry[] = [];
  private readonly dirs = new Set<string>([""]);
  private readonly paths = new Set<string>();
  dir(path: string, mode = 0o755): void {
    path = path.replace(/^\/+|\/+$/g, "");
    if (this.dirs.has(path)) return;
    this.dir(dirname(path) === "." ? "" : dirname(path));
    this.dirs.add(path);
    this.entries.push({ kind: "dir", path, mode });
  }
  add(e: CpioEntry): void {
    const path = e.path.replace(/^\/+/, "");
    if (this.paths.has(path)) return;
    this.paths.add(path);
    const parent = dirname(path);
    if (parent !== ".") this.dir(parent);
    this.entries.push({ ...e, path });
  }
}

/**
 * Write the initramfs. Stage 1 (`/init`) loads modules, moves `/rootfs` into a tmpfs that becomes the
 * read-only lower of an overlay with a tmpfs upper (`/run/overlay/{lower,upper,work}`), and switch_roots
 * to busybox init, which runs `/etc/init.d/rcS` and respawns `services`.
 * @example buildInitramfs({ out: "/tmp/i.cpio", kernelVersion: "6.1.0-56-cloud-amd64", busybox: "/bin/busybox", binaries: [], services: ["/usr/sbin/httpd -f -h /www"] });
 */
export function buildInitramfs(o: InitramfsOptions): { bytes: number; libraries: string[]; modules: string[] } {
  const modulesDir = join(o.modulesRoot ?? "/lib/modules", o.kernelVersion);
  const modules = o.modules ?? DEFAULT_MODULES;
  const kos = moduleClosure(modulesDir, modules);
  const t = new Tree();
  const copy = (from: string, to: string, mode = 0o755) => {
    const real = realpathSync(from);
    t.add({ kind: "copy", path: to, from: real, size: statSync(real).size, mode });
  };
  const R = (p: string) => join("rootfs", p);
  // Stage 1.
  for (const d of ["proc", "sys", "dev", "run", "newroot", "bin"]) t.dir(d);
  t.add({ kind: "chardev", path: "dev/console", major: 5, minor: 1, mode: 0o600 });
  copy(o.busybox, "bin/busybox");
  t.add({ kind: "file", path: "init", mode: 0o755, data: readFileSync(join(here, "init-stage1.sh"), "utf8").replace("@MODULES@", modules.join(" ")) });
  const modPrefix = `lib/modules/${o.kernelVersion}`;
  for (const ko of kos) copy(join(modulesDir, ko), `${modPrefix}/${ko}`, 0o644);
  const depLines = readFileSync(join(modulesDir, "modules.dep"), "utf8").split("\n").filter((l) => kos.includes(l.slice(0, l.indexOf(":"))));
  t.add({ kind: "file", path: `${modPrefix}/modules.dep`, data: depLines.join("\n") + "\n" });
  for (const f of ["modules.builtin", "modules.order"]) if (existsSync(join(modulesDir, f))) copy(join(modulesDir, f), `${modPrefix}/${f}`, 0o644);
  // The root (becomes the read-only lower).
  for (const d of ["proc", "sys", "dev", "tmp", "run/overlay", "var/lib", "root", "etc/init.d", "usr/local/bin"]) t.dir(R(d));
  copy(o.busybox, R("bin/busybox"));
  for (const applet of busyboxApplets(o.busybox)) {
    if (applet === "bin/busybox" || applet === "/bin/busybox") continue;
    const depth = applet.replace(/^\/+/, "").split("/").length - 1;
    t.add({ kind: "symlink", path: R(applet), target: `${"../".repeat(depth)}bin/busybox` });
  }
  const libraries = new Set<string>();
  for (const b of o.binaries) {
    copy(b.from, R(b.to));
    for (const lib of sharedLibraries(b.from)) libraries.add(lib);
  }
  for (const lib of libraries) copy(lib, R(lib), 0o755);
  t.add({ kind: "file", path: R("etc/init.d/rcS"), mode: 0o755, data: readFileSync(join(here, "rcS.sh"), "utf8") });
  const inittab = ["::sysinit:/etc/init.d/rcS", ...o.services.map((s) => `::respawn:${s}`), "::shutdown:/bin/sync", ""].join("\n");
  t.add({ kind: "file", path: R("etc/inittab"), data: inittab });
  t.add({ kind: "file", path: R("etc/passwd"), data: "root:x:0:0:root:/root:/bin/sh\n" });
  t.add({ kind: "file", path: R("etc/group"), data: "root:x:0:\n" });
  for (const f of o.files ?? []) t.add({ kind: "file", path: R(f.path), data: f.data, mode: f.mode ?? 0o644 });
  const bytes = writeCpio(o.out, t.entries);
  return { bytes, libraries: [...libraries], modules: kos };
}
