// Build what the VM suite boots: compiled binaries (agent dev + prod, mvmctl) and a dev and a prod initramfs.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { buildInitramfs } from "../../scripts/vm/initramfs.ts";
import type { HostDeps } from "./deps.ts";

const root = resolve(import.meta.dir, "../..");
export const CACHE = join(import.meta.dir, ".cache");
const GUEST_ROOT = join(import.meta.dir, "guest-root");
const BUN = process.execPath;

export const AGENT_ARGS = "--listen serial:name=org.mvm.agent --listen vsock:52";
export const HTTPD = "/usr/sbin/httpd -f -p 127.0.0.1:8080 -h /www";

export interface Images {
  dev: string;
  prod: string;
  dist: string;
}

async function run(argv: string[], what: string): Promise<void> {
  const p = Bun.spawn(argv, { cwd: root, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${what} failed (exit ${code}): ${(err.trim() || out.trim()).split("\n").slice(-10).join("\n")}`);
}

/** Every file under test/vm/guest-root, as initramfs files (the fixture /etc/mvm, the web root). */
function guestFiles(dir = GUEST_ROOT): { path: string; data: string; mode: number }[] {
  const out: { path: string; data: string; mode: number }[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...guestFiles(p));
    // No group/other write bit, whatever the checkout's umask: the agent refuses such config files.
    else out.push({ path: "/" + relative(GUEST_ROOT, p), data: readFileSync(p, "utf8"), mode: statSync(p).mode & 0o755 });
  }
  return out;
}

/**
 * Compile the binaries (scripts/build.ts for the agent, `bun build --compile` for mvmctl) into
 * test/vm/.cache/dist and write the two initramfs images beside them.
 */
export async function buildImages(deps: HostDeps, say: (line: string) => void): Promise<Images> {
  const dist = join(CACHE, "dist");
  const t0 = performance.now();
  await run([BUN, "scripts/build.ts", "--out", dist], "scripts/build.ts");
  await run([BUN, "build", "--compile", "host/cli/bin.ts", "--outfile", join(dist, "mvmctl")], "bun build --compile host/cli/bin.ts");
  say(`test:vm: binaries compiled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const files = guestFiles();
  const services = (agent: string) => [HTTPD, `/usr/local/bin/${agent} ${AGENT_ARGS}`];
  const dev = join(CACHE, "initramfs-dev.cpio");
  const prod = join(CACHE, "initramfs-prod.cpio");
  const d = buildInitramfs({
    out: dev,
    kernelVersion: deps.kernelVersion,
    busybox: deps.busybox,
    binaries: [
      { from: join(dist, "mvm-guest-agent-dev"), to: "/usr/local/bin/mvm-guest-agent-dev" },
      { from: join(dist, "mvmctl"), to: "/usr/local/bin/mvmctl" },
    ],
    files,
    services: services("mvm-guest-agent-dev"),
  });
  const p = buildInitramfs({
    out: prod,
    kernelVersion: deps.kernelVersion,
    busybox: deps.busybox,
    binaries: [{ from: join(dist, "mvm-guest-agent"), to: "/usr/local/bin/mvm-guest-agent" }],
    files,
    services: services("mvm-guest-agent"),
  });
  say(`test:vm: initramfs dev ${(d.bytes / 2 ** 20).toFixed(0)} MiB, prod ${(p.bytes / 2 ** 20).toFixed(0)} MiB (kernel ${deps.kernelVersion}; libraries from ldd: ${d.libraries.join(" ")})`);
  return { dev, prod, dist };
}
