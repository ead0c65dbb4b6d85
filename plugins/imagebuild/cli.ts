// `mvm-guest-agent config render|check`: write /etc/mvm drop-in files from a spec, or check a tree.

import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { defineFlags, FlagError, parseArgv, unknownCommand } from "../../agent/argv.ts";
import { readAgentFile, type AgentFileSpec } from "../../agent/config.ts";
import { ConfigFiles } from "../../agent/config-file.ts";
import { createLogger, escapeControl } from "../../agent/log.ts";
import type { CommandEnv, DropinFormat } from "../../agent/plugin.ts";
import { renderSpec } from "./spec.ts";

/** Output, and every module's drop-in formats (the composition root hands them over). */
export type ToolIO = CommandEnv;

const USAGE = [
  "usage:",
  "  mvm-guest-agent config render --from SPEC.json --out ROOT/etc/mvm",
  "      Write integrations.d/<name>.json and probes.d/<name>.json from a spec holding `healthChecks` and",
  "      `probes` keyed by name (mkGuest's camelCase option names, or the files' snake_case keys).",
  "      Every entry is validated as the agent would load it; nothing is written if any entry is invalid.",
  "  mvm-guest-agent config check DIR",
  "      Load DIR/agent.json, DIR/integrations.d and DIR/probes.d the way the agent would; print what loads",
  "      and what is skipped, with reasons (an unknown key names the nearest known one; x- keys are left",
  "      to users). Exit 1 when any file would be skipped.",
].join("\n");

const RENDER_FLAGS = defineFlags({
  from: { type: "string", arg: "SPEC.json", description: "The spec: healthChecks and probes keyed by name" },
  out: { type: "string", arg: "DIR", description: "The etc/mvm directory to write into" },
  help: { type: "boolean", short: "h", description: "Show this help" },
});
const CHECK_FLAGS = defineFlags({ help: { type: "boolean", short: "h", description: "Show this help" } });

const SUB_COMMANDS = ["render", "check"];

function usage(io: ToolIO): number {
  io.stdout(USAGE);
  return 0;
}

/** Entry of the `config` sub-command; returns the exit code (0 ok, 1 invalid input, 2 usage). */
export async function configCommand(args: string[], io: ToolIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "--help" || sub === "-h" || sub === "help") return usage(io);
  if (sub !== "render" && sub !== "check") {
    io.stderr(sub ? `config: ${unknownCommand(sub, SUB_COMMANDS, "sub-command").message}\n${USAGE}` : USAGE);
    return 2;
  }
  try {
    const hint = { help: "see config --help" };
    if (sub === "check") {
      const p = parseArgv(rest, CHECK_FLAGS, hint);
      const dirs = [...p.positionals, ...(p.tail ?? [])];
      if (p.values.help) return usage(io);
      if (dirs.length !== 1) throw new FlagError("expected one directory");
      return check(dirs[0]!, io);
    }
    const p = parseArgv(rest, RENDER_FLAGS, hint);
    const stray = p.positionals[0] ?? p.tail?.[0];
    if (p.values.help) return usage(io);
    if (stray !== undefined) throw new FlagError(`unexpected argument ${JSON.stringify(stray)}`);
    if (!p.values.from || !p.values.out) throw new FlagError("--from and --out are required");
    return render(p.values.from, p.values.out, io);
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    io.stderr(`config ${sub}: ${e.message}\n${USAGE}`);
    return 2;
  }
}

function render(from: string, out: string, io: ToolIO): number {
  let spec: unknown;
  try {
    spec = JSON.parse(readFileSync(from, "utf8"));
  } catch (e) {
    io.stderr(`config render: ${from}: ${(e as Error).message}`);
    return 1;
  }
  const { files, problems } = renderSpec(spec, io.dropins);
  if (problems.length) {
    for (const p of problems) io.stderr(`${from}: ${p.entry}: ${p.message}`);
    io.stderr(`config render: nothing written (${problems.length} problem${problems.length > 1 ? "s" : ""})`);
    return 1;
  }
  const target = resolve(out);
  mkdirSync(dirname(target), { recursive: true });
  mkdirSync(target, { recursive: true });
  // Write everything beside the target first, then move it in: a failure leaves no half-written tree.
  const tmp = mkdtempSync(join(target, ".render-"));
  try {
    for (const f of files) {
      mkdirSync(dirname(join(tmp, f.path)), { recursive: true });
      writeFileSync(join(tmp, f.path), f.text, { mode: 0o644 });
    }
    for (const f of files) {
      mkdirSync(dirname(join(target, f.path)), { recursive: true });
      renameSync(join(tmp, f.path), join(target, f.path));
      io.stdout(`wrote ${join(target, f.path)}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  io.stdout(`config render: ${files.length} file${files.length === 1 ? "" : "s"} in ${target}`);
  return 0;
}

function check(dirArg: string, io: ToolIO): number {
  return checkTree(resolve(dirArg), Object.values(io.dropins), io, io.agentFile);
}

/**
 * Load agent.json (with `agentFile`) and each format's directory under `dir` the way the agent would
 * and say what loads and what is skipped, with reasons. Returns 1 when any file would be skipped.
 */
export function checkTree(dir: string, formats: readonly DropinFormat[], out: Pick<ToolIO, "stdout">, agentFile?: AgentFileSpec): number {
  // Each line names files and quotes their contents: escaped, so a file name cannot drive the terminal.
  const io = { stdout: (line: string) => out.stdout(escapeControl(line)) };
  const warnings: string[] = [];
  const log = createLogger({ sink: () => {} });
  const collect = { ...log, warn: (m: string) => void warnings.push(m) };
  let skipped = 0;
  const counts: string[] = [];
  if (agentFile) {
    const book = new ConfigFiles();
    readAgentFile(dir, log, book, agentFile);
    const bad = book.skipped();
    for (const s of bad) io.stdout(`skip ${s.file}: ${s.message}`);
    skipped += bad.length;
  }
  for (const f of formats) {
    const r = f.load(join(dir, f.dir), collect);
    if (r.missing) io.stdout(`${f.dir}: missing (zero ${f.noun}s)`);
    for (const l of r.loaded) io.stdout(`load ${l.file}: ${f.noun} ${l.name}${l.note ? ` (${l.note})` : ""}`);
    for (const s of r.skipped) io.stdout(`skip ${s.file}: ${s.message}`);
    skipped += r.skipped.length;
    counts.push(`${r.loaded.length} ${f.noun}(s)`);
  }
  for (const w of warnings.filter((w) => !w.includes(": skipped: "))) io.stdout(`warn ${w}`);
  io.stdout(`config check: ${counts.join(", ")} would load; ${skipped} file(s) would be skipped`);
  return skipped ? 1 : 0;
}
