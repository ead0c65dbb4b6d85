// The packaging tests' cache in the worktree (.cache/package, ignored by git): what one test process makes
// for all its test files, and builds kept across runs while their sources are unchanged. bun test runs
// no process "exit" handlers, so nothing here relies on one: stale entries are swept by the next run.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT } from "./procs.ts";

/** .cache/package in this checkout, made on first use. */
export function cacheRoot(): string {
  const dir = join(ROOT, ".cache/package");
  mkdirSync(dir, { recursive: true });
  return dir;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Remove `PREFIX-PID-*` entries whose process is gone (a run that crashed, or simply ended). */
function sweepDead(prefix: string): void {
  for (const name of readdirSync(cacheRoot())) {
    const m = new RegExp(`^${prefix}-(\\d+)-`).exec(name);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) rmSync(join(cacheRoot(), name), { recursive: true, force: true });
  }
}

/** A fresh directory `PREFIX-PID-XXXXXX` for this process, after sweeping those of dead processes. */
export function processDir(prefix: string): string {
  sweepDead(prefix);
  return mkdtempSync(join(cacheRoot(), `${prefix}-${process.pid}-`));
}

/** sha256 (first 16 hex digits) over the paths and contents of every file under `paths` (relative to the repo), skipping tests. */
export function sourceKey(paths: string[]): string {
  const h = new Bun.CryptoHasher("sha256");
  const walk = (p: string) => {
    const abs = join(ROOT, p);
    if (statSync(abs).isDirectory()) for (const e of readdirSync(abs).sort()) walk(join(p, e));
    else if (!/\.test\.tsx?$/.test(p)) h.update(`${relative(ROOT, abs)}\0`).update(readFileSync(abs)).update("\0");
  };
  for (const p of paths) walk(p);
  return h.digest("hex").slice(0, 16);
}

/**
 * `PREFIX-KEY`, made by `produce(tmp)` into a temporary directory renamed into place when it is complete,
 * or reused when it exists already; other `PREFIX-*` entries are removed (one build is kept).
 */
export async function keyedDir(prefix: string, key: string, produce: (dir: string) => Promise<void>): Promise<{ dir: string; reused: boolean }> {
  const dir = join(cacheRoot(), `${prefix}-${key}`);
  let reused = existsSync(dir);
  if (!reused) {
    const tmp = processDir(`${prefix}tmp`);
    await produce(tmp);
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another run finished the same build first
      reused = true;
    }
  }
  for (const name of readdirSync(cacheRoot()))
    if (name.startsWith(`${prefix}-`) && join(cacheRoot(), name) !== dir) rmSync(join(cacheRoot(), name), { recursive: true, force: true });
  return { dir, reused };
}
