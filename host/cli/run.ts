// runCli: global flags (before or after the command), dispatch, --help, errors to exit codes.

import { defineFlags, FlagError, formatFlags, parseArgv, unknownCommand, type ArgValues } from "../../agent/argv.ts";
import { callCommand } from "./call.ts";
import { commandHelp, Ctx, EXIT, failure, GLOBAL_FLAGS, parseCommandArgs, UsageError, type Command } from "./command.ts";
import { diffCommand } from "./diff.ts";
import { execCommand } from "./exec.ts";
import { healthCommand, probesCommand } from "./health.ts";
import type { CliIO, GlobalFlags } from "./io.ts";
import { logsCommand } from "./logs.ts";
import { lsCommand } from "./ls.ts";
import { serveCommand } from "./serve.ts";
import { sleepPrepCommand, wakeCommand } from "./snapshot.ts";
import { restoreCommand, snapshotCommand } from "./snapshot-vm.ts";
import { pingCommand, statusCommand } from "./status.ts";
import { versionCommand } from "./version.ts";
import { waitCommand } from "./wait.ts";
import { completionCommand, hiddenComplete } from "./completion.ts";
import { colorChoice, liveOutput, outputWidth } from "./terminal.ts";

/** Every command, in the order `mvmctl --help` lists them. */
export const COMMANDS: Command[] = [
  lsCommand,
  statusCommand,
  healthCommand,
  probesCommand,
  pingCommand,
  waitCommand,
  logsCommand,
  diffCommand,
  sleepPrepCommand,
  wakeCommand,
  snapshotCommand,
  restoreCommand,
  execCommand,
  callCommand,
  versionCommand,
  completionCommand,
  serveCommand,
];

const DEFAULT_TIMEOUT_SECS = 5;

/** The process side of CliIO; runCli adds colour, liveness, width and the global flags. */
export type BaseIO = Omit<CliIO, "color" | "globals" | "live" | "width"> & { stdoutIsTTY: boolean };

/** What may come before the command: the global flags, `--help` and `--version`. */
const FIRST_FLAGS = defineFlags({
  ...GLOBAL_FLAGS,
  help: { type: "boolean", short: "h", description: "Show this help" },
  version: { type: "boolean", description: "Print mvmctl's version" },
});

export function usage(version: string): string {
  // A command's name and positionals (`wait VM`), without its flags.
  const head = (c: Command) => c.usage.split(/ \[| -/)[0]!;
  const w = Math.max(...COMMANDS.map((c) => head(c).length));
  return `mvmctl ${version}: operate the guest agents of your microVMs

usage: mvmctl [--vms FILE] [--timeout SECS] [--color|--no-color] COMMAND [ARGS] [--help]

commands:
${COMMANDS.map((c) => `  ${head(c).padEnd(w)}  ${c.summary}`).join("\n")}

global flags (before or after the command):
${formatFlags(GLOBAL_FLAGS)}

exit codes: 0 ok, 1 not ok (e.g. health not ready), 2 usage, 3 agent unreachable, 4 agent error, 5 timeout, 6 VMM failed;
exec exits with the command's own code. Colour: --color/--no-color, else NO_COLOR, FORCE_COLOR, TERM=dumb, a terminal.
Shell completion: mvmctl completion bash|zsh|fish. See man mvmctl and docs/mvmctl.md.
`;
}

/** The command by name, or a FlagError with the nearest names. */
function findCommand(name: string): Command {
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) throw unknownCommand(name, COMMANDS.map((c) => c.name));
  return cmd;
}

/** The global flags given before and after the command (after wins), checked. */
function globalsOf(before: ArgValues<typeof GLOBAL_FLAGS>, after: ArgValues<typeof GLOBAL_FLAGS> | undefined): GlobalFlags & { color: boolean | undefined } {
  const vms = after?.vms ?? before.vms;
  const timeout = after?.timeout ?? before.timeout;
  if (timeout !== undefined && !(timeout > 0 && timeout <= 86_400)) throw new FlagError(`--timeout: expected seconds above 0 and at most 86400, got ${timeout}`);
  return {
    ...(vms !== undefined ? { vms } : {}),
    timeoutMs: Math.round((timeout ?? DEFAULT_TIMEOUT_SECS) * 1000),
    timeoutExplicit: timeout !== undefined,
    color: after?.color ?? before.color,
  };
}

/**
 * Run mvmctl with these arguments; returns the exit code. Nothing here touches `process`.
 * @example const code = await runCli(["ls", "--json", "--vms", "vms.json"], io, "0.1.0");
 */
export async function runCli(argv: string[], base: BaseIO, version = "0.0.0"): Promise<number> {
  const fail = (e: unknown) => {
    const f = failure(e);
    base.err(`mvmctl: ${f.message}\n`);
    return f.exit;
  };
  const ioWith = (g: ReturnType<typeof globalsOf>): CliIO => {
    const { color, ...globals } = g;
    return { ...base, color: colorChoice(color, base.env, base.stdoutIsTTY), live: liveOutput(base), width: outputWidth(base), globals };
  };
  let cmd: Command | undefined;
  let parsed: ReturnType<typeof parseCommandArgs>;
  let io: CliIO;
  try {
    // First pass: the flags before the command; anything else there is left to the command's own pass.
    const first = parseArgv(argv, FIRST_FLAGS, { untilPositional: true, help: "see mvmctl --help" });
    const name = first.positionals[0];
    if (name === undefined && first.rest.length) parseArgv(first.rest, FIRST_FLAGS, { help: "see mvmctl --help" }); // throws for the stray flag
    if (first.values.version) {
      base.out(`mvmctl ${version}\n`);
      return EXIT.OK;
    }
    if (name === undefined || name === "help") {
      const topic = name === "help" ? first.rest.find((a) => !a.startsWith("-")) : undefined;
      // Bare `mvmctl` is a request for help too (as kubectl, docker and gh): stdout, exit 0.
      base.out(topic ? commandHelp(findCommand(topic)) : usage(version));
      return EXIT.OK;
    }
    // The completion scripts' own entry (not in the table, so not in --help): never an error.
    if (name === "__complete") return hiddenComplete(first.rest[0], first.values.vms, base);
    // An unknown flag before an unknown command: the flag is the mistake to name (`--vsm FILE ls`).
    if (!COMMANDS.some((c) => c.name === name) && first.unknown.length) parseArgv(first.unknown, FIRST_FLAGS, { help: "see mvmctl --help" });
    cmd = findCommand(name);
    parsed = parseCommandArgs(cmd, first.rest);
    io = ioWith(globalsOf(first.values, parsed.globals));
    if (first.values.help || parsed.help) {
      io.out(commandHelp(cmd));
      return EXIT.OK;
    }
    if (parsed.args.length < cmd.args.min || parsed.args.length > cmd.args.max) {
      const which = parsed.args.length < cmd.args.min ? "missing arguments" : `unexpected argument ${JSON.stringify(parsed.args[cmd.args.max])}`;
      throw new UsageError(`${cmd.name}: ${which}\nusage: mvmctl ${cmd.usage}`);
    }
    if (parsed.tail.length && !cmd.tail) throw new UsageError(`${cmd.name}: unexpected arguments after --\nusage: mvmctl ${cmd.usage}`);
  } catch (e) {
    return fail(e);
  }
  const ctx = new Ctx(io, version, COMMANDS);
  try {
    return await cmd.run(ctx, parsed);
  } catch (e) {
    const f = failure(e);
    io.err(`mvmctl: ${f.message}\n`);
    return f.exit;
  } finally {
    await ctx.close();
  }
}
