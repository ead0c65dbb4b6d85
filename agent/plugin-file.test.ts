// --plugin FILE on the agent's command line: loaded modules join the bundled ones (flags, schemas, sub-commands),
// hostile files are clear errors (exit 2), and production builds refuse to load code at all.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "./main.ts";
import { leadingPluginArgs, loadPluginFile, pluginModuleOf } from "./plugin-file.ts";
import { tempDir } from "./testing.ts";

const root = join(import.meta.dir, "..");
const d = tempDir("mvm-plugin-file-");
afterAll(() => d.cleanup());

function file(name: string, text: string): string {
  const p = join(d.path, name);
  writeFileSync(p, text);
  return p;
}

const good = file(
  "good.ts",
  `import { definePlugin } from ${JSON.stringify(join(root, "agent/plugin.ts"))};
export default definePlugin({
  name: "good",
  flags: { "good-word": { type: "string", description: "A word for the good plugin", default: "yes" } },
  schemas: { "good-file": () => ({ type: "object" }) },
  commands: { "good-cmd": { description: "Says the word", run: async (args, env) => { env.stdout("ran " + args.join(" ")); return 7; } } },
  create: () => null,
});
`,
);

async function run(argv: string[], build: "prod" | "dev" = "dev") {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([], { argv, stdout: (t) => out.push(t), stderr: (t) => err.push(t), build });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("--plugin FILE", () => {
  test("the module's flags are in --help, its schemas and sub-commands work after --plugin", async () => {
    const help = await run(["--plugin", good, "--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("--good-word VALUE");
    expect(help.out).toContain("Plugins: good");
    expect(help.out).toContain("good-cmd");
    expect(await run(["--plugin", good, "schema", "good-file"])).toMatchObject({ code: 0, out: '{\n  "type": "object"\n}' });
    expect(await run([`--plugin=${good}`, "good-cmd", "a", "b"])).toMatchObject({ code: 7, out: "ran a b" });
    expect(leadingPluginArgs(["--plugin", "a", "--plugin=b", "x", "--plugin", "c"])).toBe(3);
  });

  test("a mistyped plugin flag is answered with the nearest one", async () => {
    const r = await run(["--plugin", good, "--good-wrd", "x"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown flag --good-wrd (did you mean --good-word?)");
  });

  test("hostile files: missing, a directory, a symlink to nothing, not a module, throwing at import, a flag the core owns", async () => {
    mkdirSync(join(d.path, "dir.ts"));
    symlinkSync(join(d.path, "nowhere.ts"), join(d.path, "dangling.ts"));
    const cases: [string, RegExp][] = [
      [join(d.path, "missing.ts"), /missing\.ts": no such file/],
      [join(d.path, "dir.ts"), /not a regular file/],
      [join(d.path, "dangling.ts"), /dangling\.ts": no such file/],
      [file("none.ts", "export const x = 1;\n"), /the default export is missing, not a plugin module/],
      [file("str.ts", 'export default "acme";\n'), /the default export is a string, not a plugin module/],
      [file("shape.ts", "export default { name: 'x' };\n"), /needs a name and a create function/],
      [file("flags.ts", "export default { name: 'x', create: () => null, flags: [] };\n"), /flags must be an object/],
      [file("throws.ts", 'throw new Error("boom at import \\u001b[31m");\n'), /cannot load it: boom at import \\e\[31m/],
      [file("syntax.ts", "export default {{\n"), /cannot load it/],
      [file("taken.ts", "export default { name: 'x', create: () => null, flags: { listen: { type: 'string', description: 'mine' } } };\n"), /declares flag --listen, which is already taken/],
      [file("\u001b[2Jevil.ts", "export default 1;\n"), /\\u001b\[2Jevil\.ts/],
    ];
    for (const [path, want] of cases) {
      const r = await run(["--plugin", path, "--version"]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(want);
      expect(r.err).not.toContain("\u001b"); // the console never gets a raw escape
    }
  });

  test("a production build refuses --plugin before loading anything, and says how to build the plugin in", async () => {
    const marker = join(d.path, "loaded");
    const spy = file("spy.ts", `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "x");\nexport default { name: "spy", create: () => null };\n`);
    const r = await run(["--plugin", spy, "--version"], "prod");
    expect(r.code).toBe(2);
    expect(r.err).toContain("--plugin: this is a production build, which never loads code at run time");
    expect(r.err).toContain("plugin build");
    expect(await Bun.file(marker).exists()).toBe(false);
  });

  test("--watch without --plugin is a usage error", async () => {
    expect(await run(["--watch"])).toMatchObject({ code: 2, err: expect.stringContaining("--watch restarts the agent when a --plugin file changes") });
  });

  test("a compiled binary's way: the file bundled first, then imported (its own copy of the API, AgentError still recognised)", async () => {
    const m = await loadPluginFile(good, { compiled: true });
    expect(m.name).toBe("good");
    expect(Object.keys(m.flags ?? {})).toEqual(["good-word"]);
    await expect(loadPluginFile(file("broken.ts", 'import x from "no-such-package-anywhere";\nexport default x;\n'), { compiled: true })).rejects.toThrow(/cannot bundle it/);
  });

  test("pluginModuleOf names what is wrong", () => {
    expect(() => pluginModuleOf(null, "x.ts")).toThrow(/is a null/);
    expect(() => pluginModuleOf({ name: "", create() {} }, "x.ts")).toThrow(/needs a name/);
    expect(pluginModuleOf({ name: "ok", create: () => null }, "x.ts").name).toBe("ok");
  });
});
