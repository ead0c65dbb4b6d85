// One cache of compiled binaries: each is compiled once per state of its sources, by whoever asks first
// (the unit tests, the VM suite, a benchmark), and reused by the rest of the run.

import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
/** Where compiled binaries are kept, one directory per kind and source key (git-ignored). */
export const BINARY_CACHE = join(ROOT, "test/.cache/bin");
/** Directories kept per kind: older source states are removed. */
const KEEP = 3;

/** What goes into each kind of binary: the files whose contents make its key. */
const INPUTS = {
  agent: ["agent", "plugins", "scripts/build.ts", "scripts/checkers.ts", "package.json", "package-lock.json", "bunfig.toml", "tsconfig.json"],
  mvmctl: ["host", "agent", "plugins", "scripts/build.ts", "scripts/checkers.ts", "package.json", "package-lock.json", "bunfig.toml", "tsconfig.json"],
} as const;
type Kind = keyof typeof INPUTS;

/**
 * A key over the contents of every tracked or untracked (not ignored) file under `paths`, and Bun's
 * version: a binary built from the same sources by the same Bun is the same binary.
 */
function sourceKey(paths: readonly string[]): string {
  const ls = Bun.spawnSync(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ...paths], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (ls.exitCode !== 0) throw new Error(`git ls-files failed (the binary cache needs a git checkout): ${ls.stderr.toString()}`);
  const files = [...new Set(ls.stdout.toString().split("\0").filter(Boolean))].sort();
  const h = createHash("sha256").update(`bun ${Bun.version} ${Bun.revision}\n`);
  for (const f of files) {
    if (!existsSync(join(ROOT, f))) continue; // deleted in the work tree, not yet in the index
    h.update(f).update("\0").update(readFileSync(join(ROOT, f))).update("\0");
  }
  return h.digest("hex").slice(0, 16);
}

async function run(argv: string[], what: string): Promise<void> {
  const p = Bun.spawn(argv, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${what} failed (exit ${code}):\n${(err.trim() || out.trim()).split("\n").slice(-20).join("\n")}`);
}

/** Remove all but the KEEP newest directories of one kind. */
function prune(kind: Kind): void {
  const dirs = readdirSync(BINARY_CACHE)
    .filter((n) => n.startsWith(`${kind}-`))
    .map((n) => ({ n, t: statSync(join(BINARY_CACHE, n)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const d of dirs.slice(KEEP)) rmSync(join(BINARY_CACHE, d.n), { recursive: true, force: true });
}

export interface Built {
  /** The cache directory holding the binaries. */
  dir: string;
  /** Compiled by this call (false: found in the cache). */
  compiled: boolean;
  /** Time spent compiling, ms (0 when cached). */
  ms: number;
}

const memo = new Map<Kind, Promise<Built>>();

/** The binaries of `kind`, compiled into a temp dir by `build` and moved into place when absent. */
function cached(kind: Kind, build: (out: string) => Promise<void>): Promise<Built> {
  let p = memo.get(kind);
  if (!p) {
    p = (async () => {
      const dir = join(BINARY_CACHE, `${kind}-${sourceKey(INPUTS[kind])}`);
      if (existsSync(dir) && process.env.MVM_TEST_REBUILD !== "1") return { dir, compiled: false, ms: 0 };
      mkdirSync(BINARY_CACHE, { recursive: true });
      const tmp = join(BINARY_CACHE, `.tmp-${kind}-${process.pid}-${Date.now()}`);
      const t0 = performance.now();
      try {
        await build(tmp);
        chmodSync(tmp, 0o755); // tests in a sandbox run them as another user
        rmSync(dir, { recursive: true, force: true });
        renameSync(tmp, dir);
      } catch (e) {
        rmSync(tmp, { recursive: true, force: true });
        // Another process moved the same build into place first: use it.
        if (!existsSync(dir)) throw e;
      }
      prune(kind);
      return { dir, compiled: true, ms: performance.now() - t0 };
    })();
    memo.set(kind, p);
    p.catch(() => memo.delete(kind));
  }
  return p;
}

/**
 * The production and dev agent binaries, built by `bun scripts/build.ts --out DIR` (its documented
 * interface) once per state of the sources.
 * @example const { prod, dev } = await agentBinaries();
 */
export async function agentBinaries(): Promise<Built & { prod: string; dev: string }> {
  const b = await cached("agent", (out) => run([process.execPath, join(ROOT, "scripts/build.ts"), "--out", out], "bun scripts/build.ts"));
  return { ...b, prod: join(b.dir, "mvm-guest-agent"), dev: join(b.dir, "mvm-guest-agent-dev") };
}

/**
 * The compiled `mvmctl` as `npm run build` makes it (`bun scripts/build.ts --mvmctl-only --out DIR`), once
 * per state of the sources.
 * @example const { mvmctl } = await mvmctlBinary(); Bun.spawnSync([mvmctl, "--version"]);
 */
export async function mvmctlBinary(): Promise<Built & { mvmctl: string }> {
  const b = await cached("mvmctl", (out) => run([process.execPath, join(ROOT, "scripts/build.ts"), "--mvmctl-only", "--out", out], "bun scripts/build.ts --mvmctl-only"));
  return { ...b, mvmctl: join(b.dir, "mvmctl") };
}
