// What the VM suite needs from the host (QEMU, a kernel with modules, static busybox), installed via apt when root.

import { existsSync, readdirSync } from "node:fs";

export const APT_PACKAGES = ["qemu-system-x86", "linux-image-cloud-amd64", "busybox-static"];

export interface HostDeps {
  qemu: string;
  kernel: string;
  kernelVersion: string;
  busybox: string;
}

export type DepsResult = { ok: true; deps: HostDeps; installed: boolean } | { ok: false; reason: string };

function which(cmd: string): string | null {
  const r = Bun.spawnSync(["sh", "-c", `command -v ${cmd}`], { stdout: "pipe", stderr: "ignore" });
  const p = r.stdout.toString().trim();
  return r.exitCode === 0 && p ? p : null;
}

/** The newest /boot/vmlinuz-* that has a modules.dep (cloud kernels first), or MVM_VM_KERNEL. */
function findKernel(env: Record<string, string | undefined>): { kernel: string; kernelVersion: string } | string {
  if (env.MVM_VM_KERNEL) {
    const kernel = env.MVM_VM_KERNEL;
    const kernelVersion = env.MVM_VM_KERNEL_VERSION ?? kernel.replace(/^.*vmlinuz-/, "");
    if (!existsSync(kernel)) return `MVM_VM_KERNEL=${kernel} does not exist`;
    if (!existsSync(`/lib/modules/${kernelVersion}/modules.dep`)) return `/lib/modules/${kernelVersion}/modules.dep is missing (set MVM_VM_KERNEL_VERSION)`;
    return { kernel, kernelVersion };
  }
  let names: string[] = [];
  try {
    names = readdirSync("/boot").filter((n) => n.startsWith("vmlinuz-"));
  } catch {
    return "/boot is not readable";
  }
  const candidates = names
    .map((n) => ({ kernel: `/boot/${n}`, kernelVersion: n.slice("vmlinuz-".length) }))
    .filter((k) => existsSync(`/lib/modules/${k.kernelVersion}/modules.dep`))
    .sort((a, b) => Number(b.kernelVersion.includes("cloud")) - Number(a.kernelVersion.includes("cloud")) || b.kernelVersion.localeCompare(a.kernelVersion, undefined, { numeric: true }));
  return candidates[0] ?? "no /boot/vmlinuz-* with its /lib/modules/VERSION/modules.dep";
}

/** A busybox that runs without shared libraries (the guest has none of its own). */
function findStaticBusybox(): string | null {
  for (const p of ["/bin/busybox", "/usr/bin/busybox"]) {
    if (!existsSync(p)) continue;
    const r = Bun.spawnSync(["ldd", p], { stdout: "pipe", stderr: "pipe" });
    if (/not a dynamic executable|statically linked/.test(r.stdout.toString() + r.stderr.toString())) return p;
  }
  return null;
}

/** What is missing, or the host tools. */
export function probeDeps(env: Record<string, string | undefined>): { deps?: HostDeps; missing: string[] } {
  const missing: string[] = [];
  const qemu = which("qemu-system-x86_64");
  if (!qemu) missing.push("qemu-system-x86_64 (package qemu-system-x86)");
  const k = findKernel(env);
  if (typeof k === "string") missing.push(`a kernel: ${k} (package linux-image-cloud-amd64)`);
  const busybox = findStaticBusybox();
  if (!busybox) missing.push("a static busybox (package busybox-static)");
  if (!which("ldd")) missing.push("ldd (package libc-bin)");
  if (missing.length || !qemu || typeof k === "string" || !busybox) return { missing };
  return { deps: { qemu, kernel: k.kernel, kernelVersion: k.kernelVersion, busybox }, missing };
}

/**
 * Find the host tools; when some are missing and we are root, `apt-get update` once and install them.
 * Resolves `{ ok: false, reason }` when they cannot be had (the caller prints SKIPPED).
 */
export async function ensureDeps(env: Record<string, string | undefined>, say: (line: string) => void): Promise<DepsResult> {
  const first = probeDeps(env);
  if (first.deps) return { ok: true, deps: first.deps, installed: false };
  if (process.getuid?.() !== 0) return { ok: false, reason: `missing ${first.missing.join("; ")}, and not root, so they cannot be installed (apt-get install ${APT_PACKAGES.join(" ")})` };
  if (!which("apt-get")) return { ok: false, reason: `missing ${first.missing.join("; ")}, and there is no apt-get here` };
  say(`test:vm: installing ${APT_PACKAGES.join(" ")} (missing: ${first.missing.join("; ")})`);
  const aptEnv = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const argv of [["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", ...APT_PACKAGES]]) {
    const p = Bun.spawn(argv, { env: aptEnv, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    if (code !== 0) {
      const tail = (err.trim() || out.trim()).split("\n").slice(-5).join("\n");
      return { ok: false, reason: `${argv.join(" ")} failed (exit ${code}):\n${tail}` };
    }
  }
  const again = probeDeps(env);
  if (!again.deps) return { ok: false, reason: `still missing after apt-get install: ${again.missing.join("; ")}` };
  return { ok: true, deps: again.deps, installed: true };
}
