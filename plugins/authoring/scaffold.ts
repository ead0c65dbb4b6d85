// `mvm-guest-agent plugin new NAME`: check the name, refuse an existing directory, write the project's files (or nothing).

import { lstatSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { FlagError } from "../../agent/argv.ts";
import { GITIGNORE, indexTestTs, indexTs, packageJson, PROJECT_TSCONFIG, readme, type ProjectVars } from "./templates.ts";

/** Names taken by the core and the bundled plugins (a plugin of that name could not be loaded beside them). */
const TAKEN = new Set(["core", "health", "probes", "worker", "snapshot", "fsdiff", "exec", "mvm-compat", "image-config", "dev-marker", "authoring", "node_modules"]);

/**
 * Why `name` cannot be a plugin's name, or null when it can: 1 to 32 of a-z and 0-9, starting with a
 * letter, single hyphens between (it becomes a directory, an npm package name, a request prefix and
 * flag names, so nothing else is let through: no path, no control character, no capital).
 * @example checkPluginName("acme-disk") // null; checkPluginName("../x") // "..."
 */
export function checkPluginName(name: string): string | null {
  if (!/^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,31}$/.test(name))
    return `${JSON.stringify(name)} is not a plugin name: 1 to 32 of a-z and 0-9, starting with a letter, with single hyphens between (e.g. acme-disk)`;
  if (TAKEN.has(name)) return `${JSON.stringify(name)} is the name of ${name === "core" ? "the core" : "a bundled plugin"}; choose another`;
  return null;
}

/**
 * Write a plugin project into DIR/NAME: package.json, tsconfig.json, index.ts, index.test.ts, README.md,
 * .gitignore (and .npmrc with install-links for a `file:` directory dependency, so npm copies the package in
 * and its peer TypeBox is the project's one copy). Throws FlagError for a bad name, a directory that
 * exists (nothing is overwritten) or a parent that does not; a failure half-way removes what it wrote.
 * @example writeProject("/src", { name: "acme", packageSpec: "file:/opt/mvm-guest-agent", versions }) // "/src/acme"
 */
export function writeProject(parent: string, vars: ProjectVars): string {
  const bad = checkPluginName(vars.name);
  if (bad) throw new FlagError(bad);
  const base = resolve(parent);
  let st;
  try {
    st = statSync(base);
  } catch {
    throw new FlagError(`--dir ${JSON.stringify(parent)}: no such directory`);
  }
  if (!st.isDirectory()) throw new FlagError(`--dir ${JSON.stringify(parent)}: not a directory`);
  const dir = join(base, vars.name);
  let exists = true;
  try {
    lstatSync(dir); // a dangling symlink counts: it would send the files elsewhere
  } catch {
    exists = false;
  }
  if (exists) throw new FlagError(`${dir} already exists: nothing was written (choose another name, or remove it)`);
  try {
    mkdirSync(dir, { mode: 0o755 });
  } catch (e) {
    throw new FlagError(`cannot create ${dir}: ${(e as Error).message}`);
  }
  const files: [string, string][] = [
    ["package.json", packageJson(vars)],
    ["tsconfig.json", JSON.stringify(PROJECT_TSCONFIG, null, 2) + "\n"],
    ["index.ts", indexTs(vars)],
    ["index.test.ts", indexTestTs(vars)],
    ["README.md", readme(vars)],
    [".gitignore", GITIGNORE],
  ];
  if (/^file:/.test(vars.packageSpec) && !/\.t(ar\.)?gz$/.test(vars.packageSpec)) files.push([".npmrc", "install-links=true\n"]);
  try {
    for (const [name, text] of files) writeFileSync(join(dir, name), text, { flag: "wx", mode: 0o644 });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new FlagError(`cannot write the project in ${dir}: ${(e as Error).message}`);
  }
  return dir;
}
