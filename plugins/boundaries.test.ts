// Folder boundaries: no plugin imports another plugin's files, and the core imports no plugin (bin.ts aside).

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

const root = resolve(import.meta.dir, "..");

/** Every module specifier a file names: static and side-effect imports, re-exports, import(), require(). */
export function specifiers(text: string): string[] {
  const out: string[] = [];
  const re = /\bfrom\s*["']([^"']+)["']|\bimport\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|\brequire\s*\(\s*["']([^"']+)["']\s*\)/g;
  for (const m of text.matchAll(re)) out.push((m[1] ?? m[2] ?? m[3] ?? m[4])!);
  return out;
}

/** Test code (tests, a folder's testkit, fixtures) may use the bundled list at plugins/ (its suites run against real plugins). */
function isTestCode(rel: string): boolean {
  return rel.endsWith(".test.ts") || rel.endsWith("/testkit.ts") || rel.split("/").includes("fixtures");
}

/** Why `file` (repo-relative) may not import `target` (repo-relative), or null when it may. */
export function violation(file: string, target: string): string | null {
  const [top, folder] = file.split("/");
  const [ttop, tfolder] = target.split("/");
  if (top === "agent" && ttop === "plugins" && file !== "agent/bin.ts") return "the core imports no plugin (agent/bin.ts, the composition root, is the one exception)";
  if (top !== "plugins" || file.split("/").length < 3) return null;
  if (ttop !== "plugins") return null;
  if (target.split("/").length === 2) return isTestCode(file) ? null : `a plugin's code does not import the bundled list ${target}`;
  if (tfolder !== folder) return `plugins/${folder}/ imports plugins/${tfolder}/: use a service, ctx.call or the module's dropins instead`;
  return null;
}

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (/\.(ts|tsx)$/.test(e.name)) yield p;
  }
}

describe("the checker", () => {
  test("finds every form of import", () => {
    const text = `import a from "../x/a.ts";\nimport type { B } from '../y/b.ts';\nimport "../z/side.ts";\nexport { c } from "../w/c.ts";\nconst d = await import("../v/d.ts");\nrequire("../u/e.ts");`;
    expect(specifiers(text)).toEqual(["../x/a.ts", "../y/b.ts", "../z/side.ts", "../w/c.ts", "../v/d.ts", "../u/e.ts"]);
  });

  test("tells a crossing from an allowed import", () => {
    expect(violation("plugins/mvm-compat/lifecycle.ts", "plugins/snapshot/commands.ts")).toContain("plugins/mvm-compat/ imports plugins/snapshot/");
    expect(violation("plugins/snapshot/testkit.ts", "plugins/health/schemas.ts")).toContain("imports plugins/health/");
    expect(violation("plugins/health/health.ts", "plugins/health/loader.ts")).toBeNull();
    expect(violation("plugins/health/health.ts", "agent/plugin.ts")).toBeNull();
    expect(violation("plugins/health/health.ts", "plugins/index.ts")).toContain("bundled list");
    expect(violation("plugins/mvm-compat/testkit.ts", "plugins/index.ts")).toBeNull();
    expect(violation("plugins/contract.test.ts", "plugins/health/index.ts")).toBeNull();
    expect(violation("agent/main.ts", "plugins/index.ts")).toContain("the core imports no plugin");
    expect(violation("agent/requests.test.ts", "plugins/requests.ts")).toContain("the core imports no plugin");
    expect(violation("agent/bin.ts", "plugins/index.ts")).toBeNull();
  });
});

test("no file under plugins/A/ imports plugins/B/, and agent/ imports no plugin but in agent/bin.ts", () => {
  const found: string[] = [];
  for (const top of ["agent", "plugins"]) {
    for (const path of sources(join(root, top))) {
      const file = relative(root, path).split(sep).join("/");
      for (const spec of specifiers(readFileSync(path, "utf8"))) {
        if (!spec.startsWith(".")) continue;
        const target = relative(root, resolve(dirname(path), spec)).split(sep).join("/");
        const why = violation(file, target);
        if (why) found.push(`${file} -> ${spec}: ${why}`);
      }
    }
  }
  expect(found).toEqual([]);
});
