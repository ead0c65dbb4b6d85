// `mvmctl logs VM [-f] [-n N]`: the tail of the VM's console log; -f follows it across rotation and truncation.

import { followFile, readLastLines } from "../client/console-log.ts";
import { CliFailure, defineCommand, EXIT, UsageError } from "./command.ts";
import { paint } from "./io.ts";

export const logsCommand = defineCommand({
  name: "logs",
  summary: "Print the last lines of a VM's console log (console_log in vms.json); -f keeps following it.",
  usage: "logs VM [-f] [-n N]",
  details: `
-f follows like tail -F: a truncated log is read again from its start, a rotated one (a new file at
the path) is finished and then the new file is read, and a missing one is waited for. Ctrl-C stops
(exit 0). Notes about truncation and rotation go to stderr.`,
  flags: {
    follow: { type: "boolean", short: "f", description: "Keep printing lines as they are written." },
    lines: { type: "number", short: "n", description: "How many lines from the end to print first.", default: 20 },
    "poll-ms": { type: "number", description: "How often -f looks at the file.", default: 200 },
  },
  args: { min: 1, max: 1 },
  async run(ctx, { values, args }) {
    const vm = ctx.vm(args[0]!);
    const n = values.lines;
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`logs: -n expects a whole number of lines, got ${n}`);
    const path = vm.console_log;
    if (!path) throw new UsageError(`${vm.name}: no console_log in ${ctx.vms().path}; add "console_log": "/path/to/console.log" to its entry`);
    let end: number | undefined;
    try {
      const last = readLastLines(path, n);
      if (last.lines.length) ctx.io.out(last.lines.join("\n") + "\n");
      end = last.end;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "does not exist (yet?)" : `cannot be read: ${(e as Error).message}`;
      if (!values.follow) throw new CliFailure(EXIT.NOT_OK, `${vm.name}: console log ${path} ${why}`);
      ctx.io.err(`${vm.name}: console log ${path} ${why}; waiting for it\n`);
      end = 0;
    }
    if (!values.follow) return EXIT.OK;
    const c = ctx.io.color;
    await followFile(path, {
      startAt: end,
      pollMs: values["poll-ms"],
      signal: ctx.io.signal,
      onLine: (line) => ctx.io.out(line + "\n"),
      onReset: (reason) => ctx.io.err(paint(c, "yellow", `-- ${path} was ${reason}; reading it from the start --`) + "\n"),
    });
    return EXIT.OK;
  },
});
