// `--plugin FILE`: finding the files on a command line, and loading one as a plugin module (from source, or bundled first in a compiled dev binary).

import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { FlagError } from "./argv.ts";
import type { PluginModule } from "./plugin.ts";

/**
 * The `--plugin` files and the `--watch` switch on a command line, read before the full parse (the
 * plugins' own flags are not known until their files are loaded). Everything after `--` is left alone.
 * `watchAt` lists the argv indexes of the `--watch` arguments (a supervisor drops them for its child).
 * @example scanPluginArgs(["--plugin", "./a.ts", "--watch"]) // { plugins: ["./a.ts"], watch: true, watchAt: [2] }
 */
export function scanPluginArgs(argv: readonly string[]): { plugins: string[]; watch: boolean; watchAt: number[] } {
  const { tokens } = parseArgs({
    args: [...argv],
    options: { plugin: { type: "string", multiple: true }, watch: { type: "boolean" } },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const plugins: string[] = [];
  let watch = false;
  const watchAt: number[] = [];
  for (const t of tokens) {
    if (t.kind === "option-terminator") break;
    if (t.kind !== "option") continue;
    if (t.name === "plugin" && typeof t.value === "string") plugins.push(t.value);
    if (t.name === "watch") {
      watch = t.value === undefined ? true : t.value === "true";
      watchAt.push(t.index);
    } else if (t.name === "no-watch") {
      watch = false;
      watchAt.push(t.index);
    }
  }
  return { plugins, watch, watchAt };
}

/**
 * `value` as a plugin module (a module file's default export), or a FlagError saying what is wrong
 * with it. Used for `--plugin` files by the agent and by the build.
 * @example pluginModuleOf((await import(path)).default, path)
 */
export function pluginModuleOf(value: unknown, file: string): PluginModule {
  const shown = JSON.stringify(file);
  if (value === null || typeof value !== "object")
    throw new FlagError(`--plugin ${shown}: the default export is ${value === undefined ? "missing" : `a ${value === null ? "null" : typeof value}`}, not a plugin module (export default definePlugin({ name, create }))`);
  const m = value as Partial<PluginModule>;
  if (typeof m.name !== "string" || m.name === "" || typeof m.create !== "function")
    throw new FlagError(`--plugin ${shown}: the default export is not a plugin module: it needs a name and a create function (export default definePlugin({ name, create }))`);
  if (m.flags !== undefined && (m.flags === null || typeof m.flags !== "object" || Array.isArray(m.flags)))
    throw new FlagError(`--plugin ${shown}: module ${m.name}: flags must be an object of flag specs`);
  return m as PluginModule;
}

/** True in a binary made by `bun build --compile` (its entry lives in bun's embedded file system). */
export function isCompiledBinary(main: string = Bun.main): boolean {
  return main.startsWith("/$bunfs/") || main.startsWith("B:/~BUN/");
}

/**
 * Load one `--plugin` file: an existing regular file, imported as a module whose default export is a
 * plugin module. From source, a plain `import()`; in a compiled binary, where run-time imports cannot
 * see the file's node_modules, the file is bundled first (with its imports, its own copy of this
 * package's API included: AgentError is recognised across copies) into a private temp file that is
 * imported and removed. Throws FlagError naming the file.
 * @example const mod = await loadPluginFile("./examples/custom-plugin/index.ts");
 */
export async function loadPluginFile(file: string, opts: { compiled?: boolean } = {}): Promise<PluginModule> {
  const path = resolve(file);
  const shown = JSON.stringify(file);
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new FlagError(`--plugin ${shown}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  if (!st.isFile()) throw new FlagError(`--plugin ${shown}: not a regular file`);
  let exported: unknown;
  try {
    exported = (opts.compiled ?? isCompiledBinary()) ? await importBundled(path) : (await import(path)).default;
  } catch (e) {
    if (e instanceof FlagError) throw e;
    throw new FlagError(`--plugin ${shown}: cannot load it: ${(e as Error)?.message ?? String(e)}`);
  }
  return pluginModuleOf(exported, file);
}

/** Bundle `path` with its imports (resolved from its own directory) and import the bundle. */
async function importBundled(path: string): Promise<unknown> {
  const out = await Bun.build({ entrypoints: [path], target: "bun", format: "esm", throw: false } as Parameters<typeof Bun.build>[0]);
  if (!out.success || !out.outputs[0]) {
    const why = out.logs.map((l) => String(l.message ?? l)).join("; ") || "the bundler said nothing";
    throw new FlagError(`--plugin ${JSON.stringify(path)}: cannot bundle it: ${why}`);
  }
  const dir = mkdtempSync(join(tmpdir(), "mvm-plugin-"));
  try {
    const bundled = join(dir, "plugin.js");
    writeFileSync(bundled, await out.outputs[0].text(), { mode: 0o600 });
    return (await import(bundled)).default;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How many leading arguments are `--plugin FILE` / `--plugin=FILE` (sub-commands come after them). */
export function leadingPluginArgs(argv: readonly string[]): number {
  let i = 0;
  while (i < argv.length) {
    if (argv[i] === "--plugin" && i + 1 < argv.length) i += 2;
    else if (argv[i]!.startsWith("--plugin=")) i += 1;
    else break;
  }
  return i;
}
