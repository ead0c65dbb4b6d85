// The package as npm users get it: `npm pack` once per test run, and installs of that tarball (global into
// a temp prefix, or into a project) with npm's cache, offline first. Shared by the packaging tests.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { processDir } from "./cache.ts";
import { ROOT, run, type Ran } from "./procs.ts";

export { ROOT };

/** package.json of this checkout. */
export const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
};

/** What `npm pack` made. */
export interface Packed {
  /** Absolute path of the .tgz, in this process's directory under .cache/package (swept by a later run). */
  tarball: string;
  /** Bytes of the .tgz, and of its contents unpacked. */
  size: number;
  unpackedSize: number;
  /** Paths inside the package (without the `package/` prefix), sorted. */
  files: string[];
  /** Milliseconds `npm pack` took. */
  ms: number;
}

/**
 * The environment npm runs with in these tests: this process's, without the `npm_*` variables that
 * `npm test` sets for its own script (a `npm_config_prefix` or `npm_config_global` from there would
 * redirect the install), except the cache location so that installs find the packages `npm ci` fetched.
 */
export function npmEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (k.toLowerCase().startsWith("npm_") && k.toLowerCase() !== "npm_config_cache") continue;
    env[k] = v;
  }
  return { ...env, npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false", ...extra };
}

function failed(what: string, r: Ran): Error {
  return new Error(`${what} failed (exit ${r.code}):\n${(r.stderr.trim() || r.stdout.trim()).split("\n").slice(-20).join("\n")}`);
}

let packing: Promise<Packed> | null = null;

/**
 * `npm pack` this checkout once per test process (every caller gets the same tarball).
 * @example const { tarball } = await packOnce(); await installGlobal(tarball, prefix);
 */
export function packOnce(): Promise<Packed> {
  packing ??= (async () => {
    const dest = processDir("pack");
    const r = await run(["npm", "pack", "--json", "--pack-destination", dest], { env: npmEnv() });
    if (r.code !== 0) throw failed("npm pack", r);
    const [info] = JSON.parse(r.stdout) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[];
    if (!info) throw new Error(`npm pack printed no package: ${r.stdout}`);
    return {
      tarball: join(dest, info.filename),
      size: info.size,
      unpackedSize: info.unpackedSize,
      files: info.files.map((f) => f.path).sort(),
      ms: r.ms,
    };
  })();
  return packing;
}

/** A global install into a prefix of its own. */
export interface GlobalInstall {
  prefix: string;
  /** PREFIX/bin: where npm linked the package's bins. */
  binDir: string;
  /** The installed package's directory (PREFIX/lib/node_modules/NAME). */
  packageDir: string;
  /** Milliseconds the install took. */
  ms: number;
  /** npm's stderr (warnings). */
  said: string;
}

/**
 * `npm i -g --prefix PREFIX --prefer-offline TARBALL`: the package's dependencies come from npm's cache
 * when they are there (after `npm ci` they are), else from the registry. `extra` adds npm flags
 * (e.g. `--ignore-scripts`).
 */
export async function installGlobal(tarball: string, prefix: string, extra: string[] = []): Promise<GlobalInstall> {
  const r = await run(["npm", "install", "--global", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", ...extra, tarball], { env: npmEnv() });
  if (r.code !== 0) throw failed(`npm install -g ${tarball}`, r);
  return { prefix, binDir: join(prefix, "bin"), packageDir: join(prefix, "lib/node_modules", PKG.name), ms: r.ms, said: r.stderr };
}

/**
 * `npm i --prefer-offline TARBALL` in a project directory (one with a package.json): the package as a
 * dependency, as a plugin author installs it.
 */
export async function installInto(projectDir: string, tarball: string, extra: string[] = []): Promise<Ran> {
  const r = await run(["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", ...extra, tarball], { cwd: projectDir, env: npmEnv() });
  if (r.code !== 0) throw failed(`npm install ${tarball} in ${projectDir}`, r);
  return r;
}

/**
 * The environment of a machine with only Node.js and npm: PATH is `binDir`, node's own directory and
 * /usr/bin:/bin (sh, readlink, find), and nothing else; HOME is `home`. Throws if a `bun` is on that PATH
 * anyway, since then the test would not show that the bins find their own.
 */
export function nodeOnlyEnv(binDir: string, home: string): Record<string, string> {
  const path = [binDir, dirname(process.env.NODE ?? Bun.which("node") ?? "/usr/bin/node"), "/usr/bin", "/bin"].join(":");
  const stray = Bun.which("bun", { PATH: path.split(":").slice(1).join(":") });
  if (stray) throw new Error(`a bun is on the node-only PATH (${stray}): the test could not tell whether the bins find their own`);
  return { PATH: path, HOME: home, LANG: "C.UTF-8" };
}
