// `mvm-guest-agent plugin new|build`: hostile names, nothing overwritten, the files written; the example project kept
// in step with the scaffold; and the docs' plugin code (README, docs/plugins.md) type-checked as an author's project.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../agent/main.ts";
import { tempDir } from "../../agent/testing.ts";
import { authoringModule } from "./index.ts";
import { checkPluginName, writeProject } from "./scaffold.ts";
import { camel, PROJECT_TSCONFIG, type ProjectVars } from "./templates.ts";

const root = join(import.meta.dir, "../..");
const PKG = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const d = tempDir("mvm-authoring-");
afterAll(() => d.cleanup());

const vars = (name: string, packageSpec = "file:/opt/mvm-guest-agent"): ProjectVars => ({
  name,
  packageSpec,
  versions: { typebox: "0.34.52", bun: "1.4.5", typesBun: "1.4.5", typescript: "5.9.3" },
});

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([authoringModule], { argv, stdout: (t) => out.push(t), stderr: (t) => err.push(t), build: "prod" });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("plugin names", () => {
  test("good ones", () => {
    for (const n of ["acme", "a", "disk-usage", "x2", "a-b-c", "abcdefghijklmnopqrstuvwxyz012345"]) expect(checkPluginName(n)).toBeNull();
    expect(camel("disk-usage-2")).toBe("diskUsage2");
  });

  test("hostile and unusable ones are refused with the rule", () => {
    for (const n of ["", "../x", "x/y", "/abs", ".hidden", "-x", "x-", "a--b", "Acme", "ACME", "2fast", "a b", "a\u001b[31m", "a\nb", "é", "a_b", "a.b", "abcdefghijklmnopqrstuvwxyz0123456", "x\u0000"])
      expect(checkPluginName(n)).toContain("is not a plugin name");
    for (const n of ["core", "health", "exec", "mvm-compat"]) expect(checkPluginName(n)).toContain("choose another");
  });
});

describe("plugin new", () => {
  test("writes the project's files, and .npmrc only for a file: directory", () => {
    const dir = writeProject(d.path, vars("acme"));
    expect(readdirSync(dir).sort()).toEqual([".gitignore", ".npmrc", "README.md", "index.test.ts", "index.ts", "package.json", "tsconfig.json"]);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    expect(pkg).toMatchObject({ name: "acme", type: "module", dependencies: { "mvm-guest-agent": "file:/opt/mvm-guest-agent", "@sinclair/typebox": "0.34.52" } });
    expect(pkg.scripts).toMatchObject({ test: "tsc --noEmit -p . && bun test", build: expect.stringContaining("plugin build ./index.ts") });
    expect(JSON.parse(readFileSync(join(dir, "tsconfig.json"), "utf8"))).toEqual(PROJECT_TSCONFIG);
    expect(readFileSync(join(dir, "index.ts"), "utf8")).toContain('"acme.hello"');
    const tgz = writeProject(d.path, vars("acme-tgz", "file:/tmp/mvm-guest-agent-0.1.0.tgz"));
    expect(existsSync(join(tgz, ".npmrc"))).toBe(false);
  });

  test("an existing directory (even empty, even a dangling symlink) is refused and left as it was", () => {
    mkdirSync(join(d.path, "taken"));
    writeFileSync(join(d.path, "taken", "mine.txt"), "keep");
    expect(() => writeProject(d.path, vars("taken"))).toThrow("already exists: nothing was written");
    expect(readdirSync(join(d.path, "taken"))).toEqual(["mine.txt"]);
    symlinkSync(join(d.path, "elsewhere"), join(d.path, "dangling"));
    expect(() => writeProject(d.path, vars("dangling"))).toThrow("already exists");
    expect(existsSync(join(d.path, "elsewhere"))).toBe(false);
  });

  test("the command: exit 0 and next steps; bad name, existing dir, missing --dir, stray args: exit 2, said once", async () => {
    const ok = await cli(["plugin", "new", "cmd-made", "--dir", d.path, "--package", "^0.1.0"]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("npm install && npm test");
    expect(JSON.parse(readFileSync(join(d.path, "cmd-made/package.json"), "utf8")).dependencies["mvm-guest-agent"]).toBe("^0.1.0");
    for (const [argv, want] of [
      [["plugin", "new", "../escape", "--dir", d.path], "is not a plugin name"],
      [["plugin", "new", "cmd-made", "--dir", d.path], "already exists"],
      [["plugin", "new", "x", "--dir", join(d.path, "nope")], "no such directory"],
      [["plugin", "new", "a", "b", "--dir", d.path], "takes one NAME"],
      [["plugin", "new", "--dir", d.path], "needs a NAME"],
      [["plugin", "new", "y", "--dir", d.path, "--package", "a\u0007b"], "--package"],
      [["plugin", "new", "y", "--dri", d.path], "did you mean --dir?"],
      [["plugin", "build", "a.ts", "b.ts"], "takes one FILE"],
      [["plugin", "build", "--prod-only", "--dev-only"], "give one of them"],
    ] as const) {
      const r = await cli([...argv]);
      expect(r.code).toBe(2);
      expect(r.err).toContain(want);
      expect(r.err).not.toContain("\u0007");
    }
    expect(existsSync(join(d.path, "y"))).toBe(false);
    expect(existsSync(join(root, "escape"))).toBe(false);
  });

  test("plugin build of a file that is not a plugin module is exit 2 naming it", async () => {
    writeFileSync(join(d.path, "not-a-plugin.ts"), "export default 42;\n");
    const r = await cli(["plugin", "build", join(d.path, "not-a-plugin.ts"), "--out", join(d.path, "dist")]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("not a plugin module");
  });
});

describe("examples/custom-plugin is a plugin project like the scaffold's", () => {
  const ex = join(root, "examples/custom-plugin");
  test("the same tsconfig, and the package's own versions of TypeBox, bun, @types/bun and TypeScript", () => {
    expect(JSON.parse(readFileSync(join(ex, "tsconfig.json"), "utf8"))).toEqual(PROJECT_TSCONFIG);
    const pkg = JSON.parse(readFileSync(join(ex, "package.json"), "utf8"));
    expect(pkg.dependencies).toEqual({ "mvm-guest-agent": "file:../..", "@sinclair/typebox": PKG.devDependencies["@sinclair/typebox"] });
    expect(pkg.devDependencies).toEqual({ "@types/bun": PKG.devDependencies["@types/bun"], bun: PKG.dependencies.bun, typescript: PKG.devDependencies.typescript });
    expect(PKG.peerDependencies["@sinclair/typebox"]).toBe(`^${PKG.devDependencies["@sinclair/typebox"]}`);
  });

  test("tsc -p examples/custom-plugin: the example and the package's sources type-check under an author's tsconfig", async () => {
    const p = Bun.spawn([process.execPath, join(root, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", ex], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(p.stdout).text();
    expect(out).toBe("");
    expect(await p.exited).toBe(0);
  }, 120_000);
});

/** The ```ts blocks of a markdown section that start with `// file: NAME`. */
function codeBlocks(markdown: string): { name: string; code: string }[] {
  const out: { name: string; code: string }[] = [];
  for (const m of markdown.matchAll(/```ts\n(\/\/ file: ([\w.-]+\.ts)\n[\s\S]*?)```/g)) out.push({ name: m[2]!, code: m[1]! });
  return out;
}

test("the plugin code in README.md and docs/plugins.md compiles as an author's project (files marked // file: NAME), and its tests pass", async () => {
  const dir = join(d.path, "docs-project");
  mkdirSync(dir);
  // The project resolves mvm-guest-agent, TypeBox and bun's types through this checkout's node_modules (its self-link).
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(PROJECT_TSCONFIG));
  const blocks = [
    ...codeBlocks(readFileSync(join(root, "README.md"), "utf8")).map((b) => ({ ...b, name: `readme-${b.name}` })),
    ...codeBlocks(readFileSync(join(root, "docs/plugins.md"), "utf8")),
  ];
  expect(blocks.map((b) => b.name)).toEqual(expect.arrayContaining(["readme-index.ts", "index.ts", "index.test.ts"]));
  for (const b of blocks) writeFileSync(join(dir, b.name), b.code);
  const p = Bun.spawn([process.execPath, join(root, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", dir], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  expect(out).toBe("");
  expect(await p.exited).toBe(0);
  const t = Bun.spawn([process.execPath, "test", "--timeout", "60000"], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const [, said] = await Promise.all([new Response(t.stdout).text(), new Response(t.stderr).text()]);
  expect(said).toMatch(/\b0 fail\b/);
  expect(said).toMatch(/\b6 pass\b/); // the contract's 4 checks and the page's 2 tests
  expect(await t.exited).toBe(0);
}, 120_000);
