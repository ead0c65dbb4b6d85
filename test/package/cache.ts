// The packaging tests' scratch space in the worktree (.cache/package, ignored by git): what one test process
// makes for all its test files (tarballs, installs). bun test runs
// no process "exit" handlers, so nothing here relies on one: stale entries are swept by the next run.

import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { alive } from "../support/index.ts";
import { ROOT } from "./procs.ts";

/** .cache/package in this checkout, made on first use. */
export function cacheRoot(): string {
  const dir = join(ROOT, ".cache/package");
  mkdirSync(dir, { recursive: true });
  return dir;
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
