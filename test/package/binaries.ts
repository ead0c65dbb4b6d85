// The single binaries as `npm run build` makes them (from the one binary cache), and the compiled agent started on a socket.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { agentBinaries, mvmctlBinary } from "../support/index.ts";
import { spawnLogged } from "./procs.ts";

/** Paths of the compiled binaries, how long compiling took, and whether an earlier build was reused. */
export interface Binaries {
  mvmctl: string;
  agent: string;
  ms: number;
  reused: boolean;
}

/**
 * The production agent and mvmctl from the one binary cache (test/support/binaries.ts: compiled by
 * scripts/build.ts once per state of the sources, shared with the VM suite, the exec tests and the benches).
 * @example const { mvmctl } = await compiledOnce(); Bun.spawnSync([mvmctl, "--version"]);
 */
export async function compiledOnce(): Promise<Binaries> {
  const [a, m] = await Promise.all([agentBinaries(), mvmctlBinary()]);
  return { agent: a.prod, mvmctl: m.mvmctl, ms: a.ms + m.ms, reused: !a.compiled && !m.compiled };
}

/**
 * The compiled production agent on `unix:DIR/vm1.sock` with an empty config dir DIR/agent-config, once
 * it says ready; `extra` adds flags. Stop it with `stop()`.
 * @example const { sock, agent } = await startCompiledAgent(d.path); ...; await agent.stop();
 */
export async function startCompiledAgent(dir: string, extra: string[] = []) {
  const bin = await compiledOnce();
  mkdirSync(join(dir, "agent-config"), { mode: 0o700 });
  const sock = join(dir, "vm1.sock");
  const agent = spawnLogged([bin.agent, "--listen", `unix:${sock}`, ...extra, "--config-dir", join(dir, "agent-config")], { cwd: "/", env: { PATH: "/usr/bin:/bin" } });
  await agent.match(/ ready \(/, "the compiled agent");
  return { sock, agent };
}
