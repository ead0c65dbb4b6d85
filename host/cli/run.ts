// runCli: global flags (before or after the command), dispatch, --help, errors to exit codes.

import { FlagError } from "../../agent/flags.ts";
import { callCommand } from "./call.ts";
import { commandHelp, Ctx, EXIT, failure, parseCommandArgs, UsageError, type Command } from "./command.ts";
import { diffCommand } from "./diff.ts";
import { execCommand } from "./exec.ts";
import { healthCommand, probesCommand } from "./health.ts";
import type { CliIO, GlobalFlags } from "./io.ts";
import { logsCommand } from "./logs.ts";
import { lsCommand } from "./ls.ts";
import { runServeCommand, serveCommand } from "./serve.ts";
import { sleepPrepCommand, wakeCommand } from "./snapshot.ts";
import { restoreCommand, snapshotCommand } from "./snapshot-vm.ts";
import { pingCommand, statusCommand } from "./status.ts";

/** Every command, in the order `mvmctl --help` lists them. */
export const COMMANDS: Command[] = [
  lsCommand,
  statusCommand,
  healthCommand,
  probesCommand,
  pingCommand,
  logsCommand,
  diffCommand,
  sleepPrepCommand,
  wakeCommand,
  snapshotCommand,
  restoreCommand,
  execCommand,
  callCommand,
  serveCommand,
];

export const DEFAULT_TIMEOUT_SECS = 5;

/** The process side of CliIO; runCli adds colour and the global flags. */
export type BaseIO = Omit<CliIO, "color" | "globals"> & { stdoutIsTTY: boolean };

export function usage(version: string): string {
  const w = Math.max(...COMMANDS.map((c) => c.usage.split(" [")[0]!.length));
  return `mvmctl ${version}: operate the guest agents of your microVMs

usage: mvmctl [--vms FILE] [--timeout SECS] [--color|--no-color] COMMAND [ARGS] [--help]

commands:
${COMMANDS.map((c) => `  ${c.usage.split(" [")[0]!.padEnd(w)}  ${c.summary}`).join("\n")}

global flags (before or after the command):
  --vms FILE       VM list (default: $MVMCTL_VMS, else ~/.config/mvm/vms.json)
  --timeout SECS   deadline of each agent call (default ${DEFAULT_TIMEOUT_SECS})
  --color, --no-color  force colour on or off (default: on when stdout is a terminal and NO_COLOR is unset)

exit codes: 0 ok, 1 not ok (e.g. health not ready), 2 usage, 3 agent unreachable, 4 agent error, 5 timeout, 6 VMM failed;
exec exits with the command's own code. See docs/mvmctl.md.
`;
}

interface Split {
  command?: string;
  rest: string[];
  vms?: string;
  timeout?: string;
  color?: boolean;
  help: boolean;
  version: boolean;
}

/** Take the global flags out of argv wherever they are (never after `--`), and find the command. */
export function splitGlobals(argv: string[]): Split {
  const out: Split = { rest: [], help: false, version: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.rest.push(...argv.slice(i));
      break;
    }
    const m = /^--(vms|timeout)(?:=(.*))?$/.exec(a);
    if (m) {
      const value = m[2] ?? argv[++i];
      if (value === undefined) throw new FlagError(`--${m[1]} needs a value`);
      if (m[1] === "vms") out.vms = value;
      else out.timeout = value;
      continue;
    }
    if (a === "--color" || a === "--no-color") {
      out.color = a === "--color";
      continue;
    }
    if (out.command === undefined) {
      if (a === "--help" || a === "-h") {
        out.help = true;
        continue;
      }
      if (a === "--version") {
        out.version = true;
        continue;
      }
      if (!a.startsWith("-")) {
        out.command = a;
        continue;
      }
    }
    out.rest.push(a);
  }
  return out;
}

function globalsOf(s: Split): GlobalFlags {
  let timeoutMs = DEFAULT_TIMEOUT_SECS * 1000;
  if (s.timeout !== undefined) {
    const n = Number(s.timeout);
    if (s.timeout.trim() === "" || !(n > 0) || n > 86_400) throw new FlagError(`--timeout: expected seconds above 0 and at most 86400, got ${JSON.stringify(s.timeout)}`);
    timeoutMs = Math.round(n * 1000);
  }
  return { ...(s.vms !== undefined ? { vms: s.vms } : {}), timeoutMs, timeoutExplicit: s.timeout !== undefined };
}

/**
 * Run mvmctl with these arguments; returns the exit code. Nothing here touches `process`.
 * @example const code = await runCli(["ls", "--json", "--vms", "vms.json"], io, "0.1.0");
 */
export async function runCli(argv: string[], base: BaseIO, version = "0.0.0"): Promise<number> {
  let split: Split;
  let globals: GlobalFlags;
  try {
    split = splitGlobals(argv);
    globals = globalsOf(split);
  } catch (e) {
    base.err(`mvmctl: ${failure(e).message}\n`);
    return EXIT.USAGE;
  }
  const color = split.color ?? (base.stdoutIsTTY && !base.env.NO_COLOR);
  const io: CliIO = { ...base, color, globals };
  if (split.version) {
    io.out(`mvmctl ${version}\n`);
    return EXIT.OK;
  }
  if (split.command === undefined || split.command === "help") {
    const topic = split.command === "help" ? split.rest.find((a) => !a.startsWith("-")) : undefined;
    const cmd = topic ? COMMANDS.find((c) => c.name === topic) : undefined;
    if (topic && !cmd) {
      io.err(`mvmctl: unknown command ${JSON.stringify(topic)}\n`);
      return EXIT.USAGE;
    }
    const text = cmd ? commandHelp(cmd) : usage(version);
    if (split.help || split.command === "help") {
      io.out(text);
      return EXIT.OK;
    }
    io.err(text);
    return EXIT.USAGE;
  }
  const cmd = COMMANDS.find((c) => c.name === split.command);
  if (!cmd) {
    io.err(`mvmctl: unknown command ${JSON.stringify(split.command)} (commands: ${COMMANDS.map((c) => c.name).join(", ")})\n`);
    return EXIT.USAGE;
  }
  if (split.help) split.rest.unshift("--help");
  const ctx = new Ctx(io);
  try {
    if (cmd === serveCommand) return await runServeCommand(split.rest.map((a) => (a === "-h" ? "--help" : a)), io);
    const parsed = parseCommandArgs(cmd, split.rest);
    if (parsed.values.help) {
      io.out(commandHelp(cmd));
      return EXIT.OK;
    }
    if (parsed.args.length < cmd.args.min || parsed.args.length > cmd.args.max) {
      const which = parsed.args.length < cmd.args.min ? "missing arguments" : `unexpected argument ${JSON.stringify(parsed.args[cmd.args.max])}`;
      throw new UsageError(`${cmd.name}: ${which}\nusage: mvmctl ${cmd.usage}`);
    }
    if (parsed.tail.length && cmd !== execCommand) throw new UsageError(`${cmd.name}: unexpected arguments after --\nusage: mvmctl ${cmd.usage}`);
    return await cmd.run(ctx, parsed);
  } catch (e) {
    const f = failure(e);
    io.err(`mvmctl: ${f.message}\n`);
    return f.exit;
  } finally {
    await ctx.close();
  }
}
