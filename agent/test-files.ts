// Temp directories and config files for tests: the testkit's lowest layer (agent/testing.ts re-exports it).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative } from "node:path";

/** A fresh temp directory; `cleanup()` removes it. */
export function tempDir(prefix = "mvm-test-"): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Files by path relative to a dir: a JSON value (written pretty), or text as is. */
export type TestFiles = Record<string, unknown>;

/**
 * Write files under `dir` (a config dir: `integrations.d/web.json`, `agent.json`), making directories
 * as needed. Mode 0644: the agent refuses config files that group or others can write. A path that
 * leaves `dir` (absolute, or through `..`) is a TypeError: nothing is written outside it.
 * @example writeFiles(dir, { "probes.d/disk.json": { name: "disk", command: "df --output=pcent / | tail -1" } });
 */
export function writeFiles(dir: string, files: TestFiles): void {
  for (const [rel, value] of Object.entries(files)) {
    const path = join(dir, rel);
    const inside = relative(dir, path);
    if (isAbsolute(rel) || inside === "" || inside.startsWith("..") || isAbsolute(inside)) throw new TypeError(`writeFiles: ${JSON.stringify(rel)} is not a path inside the directory`);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value, null, 2), { mode: 0o644 });
  }
}
