// Build what the VM suite boots: compiled binaries (agent dev + prod, mvmctl) and a dev and a prod initramfs.

import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { buildInitramfs } from "../../scripts/vm/initramfs.ts";
import { agentBinaries, mvmctlBinary } from "../support/index.ts";
import type { HostDeps } from "./deps.ts";

export const CACHE = join(import.meta.dir, ".cache");
const GUEST_ROOT = join(import.meta.dir, "guest-root");

export const AGENT_ARGS = "--listen serial:name=org.mvm.agent --listen vsock:52";
export const HTTPD = "/usr/sbin/httpd -f -p 127.0.0.1:8080 -h /www";

export interface Images {
  dev: string;
  prod: string;
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
 * Take the binaries from the shared cache (test/support/binaries.ts: compiled once per state of the
 * sources, whether by the unit tests or here) and write the two initramfs images into test/vm/.cache.
 */
export async function buildImages(deps: HostDeps, say: (line: string) => void): Promise<Images> {
  const [agent, cli] = await Promise.all([agentBinaries(), mvmctlBinary()]);
  for (const [what, b] of [["agent binaries", agent], ["mvmctl", cli]] as const)
    say(`test:vm: ${what} ${b.compiled ? `compiled in ${(b.ms / 1000).toFixed(1)} s` : "taken from the cache (same sources)"}: ${b.dir}`);
  // A fresh clone has no cache folder; the binaries now live in test/.cache/bin, so nothing else makes it.
  mkdirSync(CACHE, { recursive: true });
  const files = guestFiles();
  const services = (agent: string) => [HTTPD, `/usr/local/bin/${agent} ${AGENT_ARGS}`];
  const dev = join(CACHE, "initramfs-dev.cpio");
  const prod = join(CACHE, "initramfs-prod.cpio");
  const d = buildInitramfs({
    out: dev,
    kernelVersion: deps.kernelVersion,
    busybox: deps.busybox,
    binaries: [
      { from: agent.dev, to: "/usr/local/bin/mvm-guest-agent-dev" },
      { from: cli.mvmctl, to: "/usr/local/bin/mvmctl" },
    ],
    files,
    services: services("mvm-guest-agent-dev"),
  });
  const p = buildInitramfs({
    out: prod,
    kernelVersion: deps.kernelVersion,
    busybox: deps.busybox,
    binaries: [{ from: agent.prod, to: "/usr/local/bin/mvm-guest-agent" }],
    files,
    services: services("mvm-guest-agent"),
  });
  say(`test:vm: initramfs dev ${(d.bytes / 2 ** 20).toFixed(0)} MiB, prod ${(p.bytes / 2 ** 20).toFixed(0)} MiB (kernel ${deps.kernelVersion}; libraries from ldd: ${d.libraries.join(" ")})`);
  return { dev, prod };
}
