// The authoring tools module: `mvm-guest-agent plugin new NAME` (a plugin project) and `plugin build [FILE]` (binaries
// with it built in). Loaded by agent/bin.ts only: the package's tools, not part of any compiled agent.

import { readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { defineFlags, FlagError, formatFlags, parseArgv, unknownCommand, type ArgSpecs } from "../../agent/argv.ts";
import type { CommandEnv, PluginModule } from "../../agent/plugin.ts";
import { build } from "../../scripts/build.ts";
import { writeProject } from "./scaffold.ts";

/** This package's root (where package.json is). */
const ROOT = resolve(import.meta.dir, "../..");

const NEW_FLAGS = defineFlags({
  dir: { type: "string", arg: "DIR", description: "Where to create the project's directory", default: "." },
  package: {
    type: "string",
    arg: "SPEC",
    description: "How the project depends on mvm-guest-agent: a tarball, file:DIR, or a registry range (default: file: this package's directory)",
  },
  help: { type: "boolean", short: "h", description: "Show this help" },
});

const BUILD_FLAGS = defineFlags({
  out: { type: "string", arg: "DIR", description: "Where the binaries go", default: "dist" },
  "prod-only": { type: "boolean", description: "Only DIR/mvm-guest-agent (the production binary)" },
  "dev-only": { type: "boolean", description: "Only DIR/mvm-guest-agent-dev" },
  target: { type: "string", arg: "TARGET", description: "bun --compile target, e.g. bun-linux-arm64 (default: this machine)" },
  help: { type: "boolean", short: "h", description: "Show this help" },
});

const USAGE = [
  "usage: mvm-guest-agent plugin new NAME [--dir DIR] [--package SPEC]",
  "       mvm-guest-agent plugin build [FILE] [--out DIR] [--prod-only | --dev-only] [--target TARGET]",
  "",
  "new: write a plugin project in DIR/NAME (package.json, tsconfig.json, index.ts, index.test.ts, README.md);",
  "     NAME is 1 to 32 of a-z 0-9 and single hyphens, starting with a letter; an existing directory is refused.",
  formatFlags(NEW_FLAGS),
  "",
  "build: compile agent binaries with the plugin module in FILE (default ./index.ts) built in; devOnly modules stay out of the production one.",
  formatFlags(BUILD_FLAGS),
].join("\n");

/** Versions this package was made with (the project pins the same, so npm finds one copy of each). */
function versions() {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    version: string;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  const pick = (name: string) => pkg.dependencies?.[name] ?? pkg.devDependencies?.[name] ?? pkg.peerDependencies?.[name] ?? "*";
  return { version: pkg.version, typebox: pick("@sinclair/typebox"), bun: pick("bun"), typesBun: pick("@types/bun"), typescript: pick("typescript") };
}

/** `--help`: the usage on stdout, exit 0. */
function showUsage(env: CommandEnv): number {
  env.stdout(USAGE);
  return 0;
}

/** A verb's flags and its other arguments (positionals, then everything after `--`). */
function parseVerb<S extends ArgSpecs>(args: string[], specs: S) {
  const p = parseArgv(args, specs, { help: "see mvm-guest-agent plugin --help" });
  return { values: p.values, rest: [...p.positionals, ...(p.tail ?? [])] };
}

async function runNew(args: string[], env: CommandEnv): Promise<number> {
  const { values, rest } = parseVerb(args, NEW_FLAGS);
  if (values.help) return showUsage(env);
  if (rest.length !== 1) throw new FlagError(rest.length ? `plugin new takes one NAME, got ${rest.length} arguments` : "plugin new needs a NAME (e.g. mvm-guest-agent plugin new acme)");
  const v = versions();
  const spec = values.package ?? `file:${ROOT}`;
  if (spec.trim() === "" || /[\u0000-\u001f\u007f]/.test(spec)) throw new FlagError("--package: expected a dependency spec (a tarball, file:DIR, or a version range)");
  const dir = writeProject(values.dir, { name: rest[0]!, packageSpec: spec, versions: v });
  const shown = relative(process.cwd(), dir) || dir;
  env.stdout(
    [
      `wrote ${shown}/ (package.json, tsconfig.json, index.ts, index.test.ts, README.md) depending on mvm-guest-agent as ${spec}`,
      "next:",
      `  cd ${shown} && npm install && npm test`,
      "  npm start          # the agent with the plugin, restarted on changes",
      "  npm run build      # dist/mvm-guest-agent with the plugin built in",
    ].join("\n"),
  );
  return 0;
}

async function runBuild(args: string[], env: CommandEnv): Promise<number> {
  const { values, rest: files } = parseVerb(args, BUILD_FLAGS);
  if (values.help) return showUsage(env);
  if (files.length > 1) throw new FlagError(`plugin build takes one FILE, got ${files.length}`);
  if (values["prod-only"] && values["dev-only"]) throw new FlagError("--prod-only and --dev-only: give one of them (none builds both)");
  const flavors: ("prod" | "dev")[] = values["prod-only"] ? ["prod"] : values["dev-only"] ? ["dev"] : ["prod", "dev"];
  const out = await build(
    { out: resolve(values.out), flavors, plugins: [resolve(files[0] ?? "index.ts")], mvmctl: false, ...(values.target ? { target: values.target } : {}) },
    (line) => env.stdout(line),
  );
  for (const f of out) env.stdout(`built ${relative(process.cwd(), f) || f} (${(Bun.file(f).size / 1e6).toFixed(1)} MB)`);
  return 0;
}

/** `mvm-guest-agent plugin new|build`: usage errors exit 2, a failed build 1. */
export const authoringModule: PluginModule = {
  name: "authoring",
  commands: {
    plugin: {
      description: "plugin new NAME | plugin build [FILE]: write a plugin project, or build binaries with a plugin in",
      async run(args, env) {
        const [verb, ...rest] = args;
        try {
          if (verb === "new") return await runNew(rest, env);
          if (verb === "build") {
            try {
              return await runBuild(rest, env);
            } catch (e) {
              if (e instanceof FlagError) throw e;
              env.stderr(`mvm-guest-agent plugin build: ${(e as Error).message}`);
              return 1;
            }
          }
          if (verb === undefined || verb === "--help" || verb === "-h" || verb === "help") {
            (verb === undefined ? env.stderr : env.stdout)(USAGE);
            return verb === undefined ? 2 : 0;
          }
          throw unknownCommand(verb, ["new", "build"], "plugin command");
        } catch (e) {
          if (!(e instanceof FlagError)) throw e;
          env.stderr(`mvm-guest-agent plugin: ${e.message}`);
          return 2;
        }
      },
    },
  },
  create: () => null,
};
