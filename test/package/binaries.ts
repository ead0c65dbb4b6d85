// The single binaries as `npm run build` makes them (scripts/build.ts): the production agent and mvmctl,
// compiled once per test process into the per-run directory, for every test that needs them; and the
// compiled agent started on a unix socket.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { build } from "../../scripts/build.ts";
import { runCacheDir } from "./pack.ts";
import { spawnLogged } from "./procs.ts";

/** Paths of the compiled binaries, and how long compiling took. */
export interface Binaries {
  dir: string;
  mvmctl: string;
  agent: string;
  ms: number;
}

let building: Promise<Binaries> | null = null;

/**
 * `scripts/build.ts --prod-only` plus mvmctl (the build's own function, not a copy of its flags), once per
 * test process: the second caller gets the first caller's files.
 * @example const { mvmctl } = await compiledOnce(); Bun.spawnSync([mvmctl, "--version"]);
 */
export function compiledOnce(): Promise<Binaries> {
  building ??= (async () => {
    const dir = join(runCacheDir(), "dist");
    const t0 = performance.now();
    const [agent, mvmctl] = await build({ out: dir, flavors: ["prod"], plugins: [], mvmctl: true });
    return { dir, agent: agent!, mvmctl: mvmctl!, ms: performance.now() - t0 };
  })();
  return building;
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
