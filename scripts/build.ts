// `bun run build`: compile the guest agent into dist/ (production without dev-only plugins, and dev), and mvmctl.
//
// bun scripts/build.ts [--out DIR] [--prod-only | --dev-only | --mvmctl-only | --no-mvmctl] [--plugin ./my-plugin.ts ...] [--target bun-linux-x64]
// A --plugin file must `export default` a PluginModule (see examples/custom-plugin/). A module with
// `devOnly: true` goes into the dev binary only: the production entry never imports it, so none of its
// code is in that file (bundled dev-only modules are dropped by the MVM_BUILD define in plugins/index.ts).

import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { PluginModule } from "../agent/plugin.ts";

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
  /** Also compile mvmctl (host/cli.ts) into OUT/mvmctl: on by default on the command line, off when omitted here. */
  mvmctl?: boolean;
}

function usage(): string {
  return [
    "usage: bun scripts/build.ts [--out DIR] [--prod-only | --dev-only | --mvmctl-only | --no-mvmctl] [--plugin FILE ...] [--target TARGET]",
    "  --out DIR        where binaries go (default dist/)",
    "  --prod-only      only dist/mvm-guest-agent (no dev-only plugins such as exec)",
    "  --dev-only       only dist/mvm-guest-agent-dev",
    "  --mvmctl-only    only dist/mvmctl (the host CLI and bridge)",
    "  --no-mvmctl      the two agent binaries, without dist/mvmctl",
    "  --plugin FILE    bundle an extra plugin module (default export: PluginModule); repeatable",
    "  --target T       bun --compile target, e.g. bun-linux-x64 or bun-linux-arm64 (default: this machine)",
  ].join("\n");
}

export function parseBuildArgs(argv: string[]): BuildOptions {
  const o: BuildOptions = { out: join(root, "dist"), flavors: ["prod", "dev"], plugins: [], mvmctl: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${usage()}`);
      return v;
    };
    if (a === "--out") o.out = resolve(val());
    else if (a === "--prod-only") [o.flavors, o.mvmctl] = [["prod"], false];
    else if (a === "--dev-only") [o.flavors, o.mvmctl] = [["dev"], false];
    else if (a === "--mvmctl-only") [o.flavors, o.mvmctl] = [[], true];
    else if (a === "--no-mvmctl") o.mvmctl = false;
    else if (a === "--plugin") o.plugins.push(resolve(val()));
    else if (a === "--target") o.target = val();
    else if (a === "--help" || a === "-h") {
      console.log(usage());
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${usage()}`);
  }
  return o;
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
    const m = (await import(path)).default as PluginModule | undefined;
    if (!m || typeof m !== "object" || typeof m.name !== "string" || typeof m.create !== "function")
      throw new Error(`--plugin ${path}: the default export is not a PluginModule ({ name, create, ... })`);
    out.push({ path, name: m.name, devOnly: m.devOnly === true });
  }
  return out;
}

/** Names of the bundled modules marked devOnly (plugins/index.ts leaves them out of production builds). */
async function bundledDevOnly(): Promise<string[]> {
  const { builtinModules } = await import(join(root, "plugins/index.ts"));
  return (builtinModules() as PluginModule[]).filter((m) => m.devOnly === true).map((m) => m.name);
}

/** The generated entry: built-in modules plus extra plugin modules, then main. */
function entrySource(plugins: string[]): string {
  const imports = plugins.map((p, i) => `import p${i} from ${JSON.stringify(p)};`).join("\n");
  const extra = plugins.map((_, i) => `p${i}`).join(", ");
  return [
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
 * per flavor naming the dev-only modules left out of the production binary.
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
    writeFileSync(entry, entrySource(kept.map((f) => f.path)));
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
      `--define=process.env.MVM_BUILD=${JSON.stringify(flavor)}`,
      ...(o.target ? [`--target=${o.target}`] : []),
      entry,
      "--outfile",
      outfile,
    ];
    compile(args, flavor);
    outputs.push(outfile);
  }
  if (o.mvmctl) {
    const outfile = join(o.out, "mvmctl");
    // host/cli.ts awaits at top level, so its bytecode is ESM (measured: --version in ~25 ms instead of ~50 ms).
    const args = [process.execPath, "build", "--compile", ...NO_AUTOLOAD, "--bytecode", "--format=esm", "--minify-syntax", "--minify-whitespace"];
    compile([...args, ...(o.target ? [`--target=${o.target}`] : []), join(root, "host/cli.ts"), "--outfile", outfile], "mvmctl");
    outputs.push(outfile);
  }
  return outputs;
}

if (import.meta.main) {
  try {
    const outs = await build(parseBuildArgs(process.argv.slice(2)), (line) => console.log(line));
    for (const f of outs) console.log(`built ${f} (${(Bun.file(f).size / 1e6).toFixed(1)} MB)`);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
}
