// `mvmctl logs VM [-f] [-n N] [--since T] [--timestamps]`: the tail of the VM's console log; -f follows it across rotation and truncation.

import { statSync } from "node:fs";
import { followFile, readLastLines } from "../client/console-log.ts";
import { printable } from "../client/printable.ts";
import { CliFailure, defineCommand, EXIT, UsageError } from "./command.ts";
import { paint, type CliIO } from "./io.ts";
import { lineTime, parseSince, stampText, timedLines } from "./since.ts";

/** How much of the log's end --since searches (the whole file up to this). */
const SINCE_SCAN_BYTES = 16 * 1024 * 1024;
const DEFAULT_LINES = 20;

const SGR = /\x1b\[[0-9;]*m/g;
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * A console line as it may reach stdout. Into a pipe or a file: unchanged (the log as the guest wrote
 * it). On a terminal: every control character but tab escaped (`\x1b]0;title`, cursor moves, clears),
 * except colour sequences (`ESC [ ... m`), kept when colour is on and dropped when it is off.
 */
function consoleLine(io: CliIO, line: string): string {
  if (!io.stdoutIsTTY) return line;
  const colours: string[] = [];
  const held = line.replace(SGR, (m) => (colours.push(m), "\u0000"));
  let i = 0;
  return held
    .replace(CONTROL, (c) => (c === "\u0000" ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`))
    .replace(/\u0000/g, () => (io.color ? colours[i++]! : (i++, "")));
}

export const logsCommand = defineCommand({
  name: "logs",
  summary: "Print the last lines of a VM's console log (console_log in vms.json); -f keeps following it.",
  usage: "logs VM [-f] [-n N] [--since DURATION|TIME] [--timestamps]",
  details: `
-f follows like tail -F: a truncated log is read again from its start, a rotated one (a new file at
the path) is finished and then the new file is read, and a missing one is waited for. Ctrl-C stops
(exit 0). Notes about truncation and rotation go to stderr.
A line's time is the RFC 3339 time it starts with (the agent's own log lines, most loggers) or the
"time" of a JSON log line; a line without one has the time of the last line before it that had one.
--since 10m (units ms s m h d w, combined: 1h30m) or --since 2026-11-28T10:00:00Z prints only lines
from then on (all of them, or the last -n), searching the log's last 16 MiB; lines with no known time
are left out. --timestamps puts each line's time (UTC) before it; a followed line without a time of
its own gets the time mvmctl read it.
On a terminal, control characters in the log are escaped (colours are kept when colour is on); into
a pipe or a file the lines are written as the guest wrote them.`,
  flags: {
    follow: { type: "boolean", short: "f", description: "Keep printing lines as they are written." },
    lines: { type: "number", short: "n", description: `How many lines from the end to print first (default ${DEFAULT_LINES}; with --since: all since then).` },
    since: { type: "string", arg: "WHEN", description: "Only lines from this long ago (10m, 1h30m, 2d) or this RFC 3339 time on." },
    timestamps: { type: "boolean", short: "t", description: "Put each line's time (RFC 3339, UTC) before it." },
    "poll-ms": { type: "number", description: "How often -f looks at the file.", default: 200 },
  },
  args: { min: 1, max: 1 },
  complete: { args: ["vm"] },
  async run(ctx, { values, args }) {
    const vm = ctx.vm(args[0]!);
    const io = ctx.io;
    const n = values.lines;
    if (n !== undefined && (!Number.isInteger(n) || n < 0)) throw new UsageError(`logs: -n expects a whole number of lines, got ${n}`);
    const poll = values["poll-ms"];
    if (!(Number.isInteger(poll) && poll >= 10 && poll <= 60_000)) throw new UsageError(`logs: --poll-ms expects whole milliseconds from 10 to 60000, got ${poll}`);
    const cutoff = values.since === undefined ? undefined : parseSince(values.since, io.now());
    const path = vm.console_log;
    if (!path) throw new UsageError(`${vm.name}: no console_log in ${ctx.vms().path}; add "console_log": "/path/to/console.log" to its entry`);
    const print = (line: string, at: number | null) => io.out(`${values.timestamps ? `${stampText(at)} ` : ""}${consoleLine(io, line)}\n`);
    let end: number | undefined;
    try {
      if (cutoff === undefined) {
        const want = n ?? DEFAULT_LINES;
        // With --timestamps, lines before the first shown one may give it the time of its message.
        const last = readLastLines(path, values.timestamps && want > 0 ? want + 200 : want);
        for (const t of timedLines(last.lines).slice(Math.max(0, last.lines.length - want))) print(t.line, t.at);
        end = last.end;
      } else {
        const all = readLastLines(path, Number.MAX_SAFE_INTEGER, SINCE_SCAN_BYTES);
        const timed = timedLines(all.lines);
        if (!timed.some((t) => t.at !== null) && all.lines.length)
          io.err(`mvmctl: ${vm.name}: no line of ${printable(path)} carries a time (an RFC 3339 time at its start, or a JSON "time"), so --since can place none; use -n\n`);
        else if (statSync(path).size > SINCE_SCAN_BYTES) io.err(`mvmctl: ${vm.name}: --since searched the last 16 MiB of ${printable(path)} only\n`);
        const since = timed.filter((t) => t.at !== null && t.at >= cutoff);
        for (const t of n === undefined ? since : since.slice(since.length - Math.min(n, since.length))) print(t.line, t.at);
        end = all.end;
      }
    } catch (e) {
      if (e instanceof UsageError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "does not exist (yet?)" : `cannot be read: ${(e as Error).message}`;
      if (!values.follow) throw new CliFailure(EXIT.NOT_OK, `${vm.name}: console log ${path} ${why}`);
      io.err(`${vm.name}: console log ${path} ${why}; waiting for it\n`);
      end = 0;
    }
    if (!values.follow) return EXIT.OK;
    const c = io.color;
    await followFile(path, {
      startAt: end,
      pollMs: poll,
      signal: io.signal,
      onLine: (line) => print(line, lineTime(line) ?? io.now()),
      onReset: (reason) => io.err(paint(c, "yellow", `-- ${path} was ${reason}; reading it from the start --`) + "\n"),
    });
    return EXIT.OK;
  },
});
