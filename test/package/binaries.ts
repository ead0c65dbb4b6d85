// The single binaries as `npm run build` makes them (scripts/build.ts): the production agent and mvmctl,
// compiled at most once per test run into .cache/package (kept for the next run while the sources that go
// into them are unchanged), for every test that needs them; and the compiled agent started on a socket.

import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { build } from "../../scripts/build.ts";
import { keyedDir, sourceKey } from "./cache.ts";
import { spawnLogged } from "./procs.ts";

/** Paths of the compiled binaries, how long compiling took, and whether an earlier run's build was reused. */
export interface Binaries {
  dir: string;
  mvmctl: string;
  agent: string;
  ms: number;
  reused: boolean;
}

/** What goes into the binaries (tests aside): a change to any of it makes a new build. */
const SOURCES = ["agent", "plugins", "host", "scripts/build.ts", "package.json", "package-lock.json", "tsconfig.json"];

let building: Promise<Binaries> | null = null;

/**
 * `scripts/build.ts --prod-only` plus mvmctl (the build's own function, not a copy of its flags), at most
 * once per test process: the second caller gets the first caller's files.
 * @example const { mvmctl } = await compiledOnce(); Bun.spawnSync([mvmctl, "--version"]);
 */
export function compiledOnce(): Promise<Binaries> {
  building ??= (async () => {
    const t0 = performance.now();
    const { dir, reused } = await keyedDir("dist", sourceKey(SOURCES), async (out) => {
      await build({ out, flavors: ["prod"], plugins: [], mvmctl: true });
      chmodSync(out, 0o755); // the sandbox tests run them as another user
    });
    return { dir, agent: join(dir, "mvm-guest-agent"), mvmctl: join(dir, "mvmctl"), ms: performance.now() - t0, reused };
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
