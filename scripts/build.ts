// `bun run build`: compile the guest agent into dist/ (production without dev-only plugins, and dev), and mvmctl.
// Also the package's `mvm-guest-agent/build` entry: `build()` from a plugin author's own project (run with bun).
//
// bun scripts/build.ts [--out DIR] [--prod-only | --dev-only | --mvmctl-only | --no-mvmctl] [--plugin ./my-plugin.ts ...] [--target bun-linux-x64]
// A --plugin file must `export default` a PluginModule (see examples/custom-plugin/). A module with
// `devOnly: true` goes into the dev binary only: the production entry never imports it, so none of its
// code is in that file (bundled dev-only modules are dropped by the MVM_BUILD define in plugins/index.ts).
// Each plugin file's imports (this package's API, its own node_modules) are resolved from its own directory.

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { defineFlags, FlagError, formatFlags, parseArgv } from "../agent/argv.ts";
import { loadPluginFile } from "../agent/plugin-file.ts";
import type { PluginModule } from "../agent/plugin.ts";
import { checkersSource } from "./checkers.ts";

const root = resolve(import.meta.dir, "..");

/**
 * A compiled bun reads .env and bunfig.toml from its working directory by default; a bunfig.toml's
 * `preload` then runs that directory's code inside the binary (measured: mvmctl run in a directory
 * holding one ran its preload). The binaries read neither.
 */
const NO_AUTOLOAD = ["--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig"];

export interface BuildOptions {
  out: string;
  flavors: ("prod" | "dev")[];
  plugins: string[];
  target?: string;
  /** Also compile mvmctl (host/cli/bin.ts) into OUT/mvmctl: on by default on the command line, off when omitted here. */
  mvmctl?: boolean;
}

/** The build's flags (agent/argv.ts: `--name value`, `--name=value`, `-h`, "did you mean"). */
export const BUILD_FLAGS = defineFlags({
  out: { type: "string", arg: "DIR", description: "Where binaries go (default dist/)" },
  "prod-only": { type: "boolean", description: "Only dist/mvm-guest-agent (no dev-only plugins such as exec)" },
  "dev-only": { type: "boolean", description: "Only dist/mvm-guest-agent-dev" },
  "mvmctl-only": { type: "boolean", description: "Only dist/mvmctl (the host CLI and bridge)" },
  "no-mvmctl": { type: "boolean", description: "The agent binaries, without dist/mvmctl" },
  plugin: { type: "list", arg: "FILE", description: "Bundle an extra plugin module (default export: PluginModule)" },
  target: { type: "string", arg: "TARGET", description: "bun --compile target, e.g. bun-linux-x64 or bun-linux-arm64 (default: this machine)" },
  help: { type: "boolean", short: "h", description: "Show this help" },
});

export function usage(): string {
  return `usage: bun scripts/build.ts [--out DIR] [--prod-only | --dev-only | --mvmctl-only | --no-mvmctl] [--plugin FILE ...] [--target TARGET]\n${formatFlags(BUILD_FLAGS)}`;
}

/**
 * The build's command line; `help` when `--help` was asked. Throws FlagError naming the flag.
 * @example parseBuildArgs(["--prod-only", "--plugin", "./acme.ts"]) // { flavors: ["prod"], plugins: ["/abs/acme.ts"], ... }
 */
export function parseBuildArgs(argv: string[]): BuildOptions & { help: boolean } {
  const { values: v, positionals, tail } = parseArgv(argv, BUILD_FLAGS, { help: "see --help" });
  const stray = positionals[0] ?? tail?.[0];
  if (stray !== undefined) throw new FlagError(`unexpected argument ${JSON.stringify(stray)} (see --help)`);
  const only = (["prod-only", "dev-only", "mvmctl-only"] as const).filter((k) => v[k]);
  if (only.length > 1) throw new FlagError(`${only.map((k) => `--${k}`).join(" and ")}: give one of them (none builds all three)`);
  if (v["mvmctl-only"] && v["no-mvmctl"]) throw new FlagError("--mvmctl-only and --no-mvmctl: give one of them");
  return {
    out: v.out !== undefined ? resolve(v.out) : join(root, "dist"),
    flavors: v["prod-only"] ? ["prod"] : v["dev-only"] ? ["dev"] : v["mvmctl-only"] ? [] : ["prod", "dev"],
    mvmctl: v["mvmctl-only"] || (only.length === 0 && !v["no-mvmctl"]),
    plugins: v.plugin.map((p) => resolve(p)),
    ...(v.target !== undefined ? { target: v.target } : {}),
    help: v.help === true,
  };
}

/** A `--plugin` file and what its default export says about itself. */
export interface PluginFile {
  path: string;
  name: string;
  devOnly: boolean;
}

/** Load each `--plugin` file to read its module's name and `devOnly` (throws naming a file without a module). */
export async function inspectPlugins(paths: string[]): Promise<PluginFile[]> {
  const out: PluginFile[] = [];
  for (const path of paths) {
    const m = await loadPluginFile(path, { compiled: false });
    out.push({ path: resolve(path), name: m.name, devOnly: m.devOnly === true });
  }
  return out;
}

/** The bundled modules as a `flavor` binary lists them (plugins/index.ts reads MVM_BUILD). */
async function bundledModules(flavor: "prod" | "dev"): Promise<PluginModule[]> {
  const { builtinModules } = await import(join(root, "plugins/index.ts"));
  // This process may run with MVM_BUILD=prod (the npm bin sets it), so ask for the flavor's list.
  const was = process.env.MVM_BUILD;
  process.env.MVM_BUILD = flavor;
  try {
    return builtinModules() as PluginModule[];
  } finally {
    if (was === undefined) delete process.env.MVM_BUILD;
    else process.env.MVM_BUILD = was;
  }
}

/** Names of the bundled modules marked devOnly (plugins/index.ts leaves them out of production builds). */
async function bundledDevOnly(): Promise<string[]> {
  return (await bundledModules("dev")).filter((m) => m.devOnly === true).map((m) => m.name);
}

/** The generated entry: the build-time schema checkers first, built-in modules plus extra plugin modules, then main. */
function entrySource(plugins: string[], checkers: string): string {
  const imports = plugins.map((p, i) => `import p${i} from ${JSON.stringify(p)};`).join("\n");
  const extra = plugins.map((_, i) => `p${i}`).join(", ");
  return [
    // Evaluated first: the router's envelope checker is made when agent/router.ts is.
    `import ${JSON.stringify(checkers)};`,
    `import { builtinModules, BUILD } from ${JSON.stringify(join(root, "plugins/index.ts"))};`,
    `import { runFromProcess } from ${JSON.stringify(join(root, "agent/main.ts"))};`,
    imports,
    // No top-level await: --bytecode compiles the entry as CommonJS.
    `void runFromProcess([...builtinModules(), ${extra}], BUILD);`,
    "",
  ].join("\n");
}

/** Run one `bun build --compile`; throws with bun's output on failure. */
function compile(args: string[], what: string): void {
  const p = Bun.spawnSync(args, { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`bun build (${what}) failed:\n${p.stdout.toString()}${p.stderr.toString()}`);
}

/**
 * Compile the binaries (the agent flavors, then mvmctl when asked); returns their paths. Throws with bun's output on failure. `say` gets one line
 * per flavor naming the dev-only modules left out of the production binary. Runs under bun (it spawns
 * `bun build --compile` with the running bun).
 * @example
 * // build.ts in a plugin project (bun build.ts), or `mvm-guest-agent plugin build ./index.ts`:
 * import { build } from "mvm-guest-agent/build";
 * const [prod] = await build({ out: "dist", flavors: ["prod"], plugins: ["./index.ts"] }, console.log);
 */
export async function build(o: BuildOptions, say: (line: string) => void = () => {}): Promise<string[]> {
  mkdirSync(o.out, { recursive: true });
  const outputs: string[] = [];
  const files = await inspectPlugins(o.plugins);
  for (const flavor of o.flavors) {
    const entry = join(o.out, `.entry-${flavor}.ts`);
    const kept = flavor === "prod" ? files.filter((f) => !f.devOnly) : files;
    if (flavor === "prod") {
      const left = [
        ...(await bundledDevOnly()).map((n) => `${n} (bundled)`),
        ...files.filter((f) => f.devOnly).map((f) => `${f.name} (--plugin ${relative(process.cwd(), f.path) || f.path})`),
      ];
      say(`prod: dev-only modules left out: ${left.join(", ") || "none"}`);
    }
    // The schema checkers, generated now: the binary carries no schema compiler (scripts/checkers.ts).
    const checkers = join(o.out, `.checkers-${flavor}.js`);
    const modules = [...(await bundledModules(flavor)), ...(await Promise.all(kept.map((f) => loadPluginFile(f.path, { compiled: false }))))];
    writeFileSync(checkers, checkersSource(modules).source);
    writeFileSync(entry, entrySource(kept.map((f) => f.path), checkers));
    const outfile = join(o.out, flavor === "prod" ? "mvm-guest-agent" : "mvm-guest-agent-dev");
    const args = [
      process.execPath,
      "build",
      "--compile",
      ...NO_AUTOLOAD,
      // Precompiled bytecode halves the time to ready (measured: ~110 ms -> ~55 ms to the first answered ping).
      "--bytecode",
      "--minify-syntax",
      "--minify-whitespace",
      // A smaller JS heap (bun --smol): idle anonymous memory 7.92 -> 7.57 MB (bench:footprint's "what was tried").
      "--compile-exec-argv=--smol",
      // Boot with JIT tier-up thresholds scaled 100x; agent/main.ts sets 1 once serving (idle anonymous 7.15 -> 6.64 MB).
      "--compile-jit-policy=100",
      `--define=process.env.MVM_BUILD=${JSON.stringify(flavor)}`,
      // Every schema check comes from the generated checkers (or TypeBox's interpreter): TypeCompiler drops out.
      `--define=process.env.MVM_CHECKERS="ahead"`,
      ...(o.target ? [`--target=${o.target}`] : []),
      entry,
      "--outfile",
      outfile,
    ];
    try {
      compile(args, flavor);
    } finally {
      rmSync(entry, { force: true });
      rmSync(checkers, { force: true });
    }
    outputs.push(outfile);
  }
  if (o.mvmctl) {
    const outfile = join(o.out, "mvmctl");
    // host/cli/bin.ts awaits at top level, so its bytecode is ESM (measured: --version in ~25 ms instead of ~50 ms).
    const args = [process.execPath, "build", "--compile", ...NO_AUTOLOAD, "--bytecode", "--format=esm", "--minify-syntax", "--minify-whitespace"];
    compile([...args, ...(o.target ? [`--target=${o.target}`] : []), join(root, "host/cli/bin.ts"), "--outfile", outfile], "mvmctl");
    outputs.push(outfile);
  }
  return outputs;
}

if (import.meta.main) {
  let opts: ReturnType<typeof parseBuildArgs>;
  try {
    opts = parseBuildArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`build: ${(e as Error).message}\n${usage()}`);
    process.exit(2);
  }
  if (opts.help) {
    console.log(usage());
    process.exit(0);
  }
  try {
    const outs = await build(opts, (line) => console.log(line));
    for (const f of outs) console.log(`built ${f} (${(Bun.file(f).size / 1e6).toFixed(1)} MB)`);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
}
