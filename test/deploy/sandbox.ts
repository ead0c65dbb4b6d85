// The bridge unit's sandbox rebuilt from the kernel features its settings stand for, for machines where
// systemd is not PID 1: a user with no capabilities and one supplementary group (DynamicUser=,
// SupplementaryGroups=, CapabilityBoundingSet=, NoNewPrivileges=), a read-only root but the state
// directory (ProtectSystem=strict, StateDirectory=), /proc showing only its own processes
// (ProtectProc=invisible, ProcSubset=pid), and UMask=0077. Syscall filters and address families are
// not rebuilt here: test/deploy/bridge-syscalls.test.ts compares what the bridge calls against them.

import { readFileSync } from "node:fs";
import { waitFor } from "../../agent/testing.ts";
import { spawnLogged } from "../package/procs.ts";
import { execStart, loadUnit, localArgv } from "./units.ts";

/** Why the sandbox cannot be built here, or null when it can (root, unshare and setpriv present). */
export function sandboxMissing(): string | null {
  if (process.getuid?.() !== 0) return "not root";
  for (const tool of ["unshare", "setpriv"]) if (!Bun.which(tool)) return `${tool} is not installed (util-linux)`;
  return null;
}

const SCRIPT = `set -e
mount -t proc -o subset=pid,hidepid=invisible proc /proc
mount --bind "$3" "$3"
mount -o remount,bind,ro /
umask 077
uid=$1 groups=$2
shift 3
exec setpriv --reuid="$uid" --regid="$uid" --groups="$groups" --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"`;

/**
 * The bridge unit's ExecStart (with `network.conf` when given), its paths mapped to this test's, under the
 * rebuilt sandbox. `paths` maps a unit path prefix to a local one (e.g. /var/lib/mvm-bridge -> DIR/state);
 * `--port` becomes 0. Returns the unshare process and a way to find the bridge's own pid.
 */
export function sandboxedBridge(opts: { mvmctl: string; uid: number; groups: number[]; state: string; paths: Record<string, string>; dropIns?: string[] }) {
  const argv = localArgv(execStart(loadUnit("mvm-bridge.service", opts.dropIns ?? [])), opts.mvmctl, opts.paths);
  const run = spawnLogged(
    ["unshare", "--mount", "--pid", "--fork", "--kill-child=SIGKILL", "--propagation", "private", "--", "/bin/sh", "-c", SCRIPT, "sh", String(opts.uid), opts.groups.join(","), opts.state, ...argv],
    { cwd: "/", env: { PATH: "/usr/bin:/bin" } },
  );
  const proc = run.proc;
  return {
    argv,
    proc,
    output: run.output,
    /** The bridge's pid (unshare's child, once it has exec'd mvmctl). */
    async pid(): Promise<number> {
      let pid = 0;
      await waitFor(
        () => {
          try {
            pid = Number(readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim().split(" ")[0]);
            return pid > 0 && readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith(opts.mvmctl);
          } catch {
            return proc.exitCode !== null;
          }
        },
        30_000,
        "the sandboxed bridge's pid",
      );
      if (proc.exitCode !== null) throw new Error(`the sandbox exited ${proc.exitCode}:\n${run.output()}`);
      return pid;
    },
    /** The bridge's URL from its first line; throws with the output if the sandbox exits first. */
    async url(): Promise<string> {
      return (await run.match(/mvm bridge on (http:\/\/127\.0\.0\.1:\d+)/, "the sandboxed bridge's address"))[1]!;
    },
  };
}

/** Uid, gid, groups, capabilities and no_new_privs of a process, from /proc/PID/status. */
export function credentials(pid: number): { uid: string; gid: string; groups: string; capEff: string; capBnd: string; noNewPrivs: string } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const f = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, "m").exec(s)?.[1]?.trim() ?? "";
  return { uid: f("Uid"), gid: f("Gid"), groups: f("Groups"), capEff: f("CapEff"), capBnd: f("CapBnd"), noNewPrivs: f("NoNewPrivs") };
}
