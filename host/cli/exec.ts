// `mvmctl exec VM -- CMD...`: run a command in a dev guest, stream its output, exit with its code.

import { constants } from "node:os";
import type { ParamsOf, ResultOf } from "../../agent/plugin.ts";
import { ClientError } from "../client/agent-client.ts";
import { callDeadlineMs, paramLimits } from "../client/deadlines.ts";
import { defineCommand, failure, secondsFlag, UsageError } from "./command.ts";

/** Exit code of mvmctl when it could not run the command at all (ssh's convention). */
const EXEC_FAILED = 255;
/** Exit code when the command hit its timeout (timeout(1)'s convention). */
const EXEC_TIMED_OUT = 124;

/** The process exit code for an exec result: the command's code, 128+N for signal N, 124 on timeout. */
function execExitCode(r: ResultOf<"exec">): number {
  if (r.timed_out) return EXEC_TIMED_OUT;
  if (r.exit_code !== null) return r.exit_code;
  const n = r.signal ? (constants.signals as Record<string, number>)[r.signal] : undefined;
  return 128 + (n ?? 0);
}

/** exec's timeout_secs: its cap and default, from ExecParams. */
const TIMEOUT = paramLimits("exec", "timeout_secs");

export const execCommand = defineCommand({
  name: "exec",
  summary: "Run a command in a VM (dev builds only), streaming its output; exit with its exit code.",
  usage: "exec VM [--shell] [--cwd DIR] [--env K=V]... [--command-timeout SECS] [--max-output-bytes N] [-i] -- CMD [ARGS...]",
  details: `
Output is streamed as the command produces it (bytes pass through unchanged) to mvmctl's stdout and
stderr. mvmctl then exits with the command's exit code, 128+N when a signal N ended it, 124 when
its timeout killed it (whole process group), and 255 when the command could not be run (agent
unreachable, exec not in this build: E_UNKNOWN_REQUEST, bad params), with the reason on stderr.
--shell joins CMD into one line run by /bin/sh -c. --stdin (-i) sends mvmctl's stdin to the command.
Examples:
  mvmctl exec vm1 -- uname -a
  mvmctl exec vm1 --shell -- 'ls /var/log | wc -l'`,
  flags: {
    shell: { type: "boolean", description: "Run CMD as one /bin/sh -c line." },
    cwd: { type: "string", description: "Working directory in the guest." },
    env: { type: "list", description: "An environment variable K=V for the command." },
    "command-timeout": { type: "number", description: `Kill the command after this many seconds (the agent's default: ${TIMEOUT.default}).` },
    stdin: { type: "boolean", short: "i", description: "Send mvmctl's stdin to the command." },
    "max-output-bytes": { type: "number", description: "Bytes streamed per stream before the agent cuts (the agent's default is 1 MiB)." },
  },
  args: { min: 1, max: 1 },
  complete: { args: ["vm"], values: { cwd: "dir" } },
  tail: true,
  async run(ctx, { values, args, tail }) {
    const vm = ctx.vm(args[0]!);
    if (tail.length === 0) throw new UsageError("exec: no command given: put it after --, e.g. mvmctl exec vm1 -- uname -a");
    const timeout = secondsFlag("exec", "command-timeout", values["command-timeout"], TIMEOUT.maximum);
    const params: ParamsOf<"exec"> = { stream: true, encoding: "base64", ...(timeout !== undefined ? { timeout_secs: timeout } : {}) };
    if (values.shell) params.command = tail.join(" ");
    else params.argv = tail;
    if (values.cwd !== undefined) params.cwd = values.cwd;
    const cap = values["max-output-bytes"];
    if (cap !== undefined) {
      if (!Number.isInteger(cap) || cap < 0) throw new UsageError(`exec: --max-output-bytes expects a whole number of bytes, got ${cap}`);
      params.max_output_bytes = cap;
    }
    if (values.env.length) {
      params.env = {};
      for (const kv of values.env) {
        const i = kv.indexOf("=");
        if (i <= 0) throw new UsageError(`exec: --env expects K=V, got ${JSON.stringify(kv)}`);
        params.env[kv.slice(0, i)] = kv.slice(i + 1);
      }
    }
    if (values.stdin) params.stdin_base64 = Buffer.from(await ctx.io.readStdin()).toString("base64");
    try {
      const r = await ctx.call(vm, "exec", params, {
        timeoutMs: callDeadlineMs("exec", params, ctx.io.globals.timeoutMs),
        signal: ctx.io.signal,
        onEvent: (event, data) => {
          if (typeof data !== "string") return;
          const bytes = Buffer.from(data, "base64");
          if (event === "stdout") ctx.io.outBytes(bytes);
          else if (event === "stderr") ctx.io.errBytes(bytes);
        },
      });
      // Whatever was not streamed (an agent that ignores stream) is printed now.
      if (r.stdout) ctx.io.outBytes(Buffer.from(r.stdout, "base64"));
      if (r.stderr) ctx.io.errBytes(Buffer.from(r.stderr, "base64"));
      if (r.stdout_truncated || r.stderr_truncated) ctx.io.err(`mvmctl: ${vm.name}: output was cut at the agent's cap (stdout ${r.stdout_bytes} bytes, stderr ${r.stderr_bytes} bytes written)\n`);
      if (r.timed_out) ctx.io.err(`mvmctl: ${vm.name}: the command timed out after ${timeout ?? TIMEOUT.default} s and was killed\n`);
      return execExitCode(r);
    } catch (e) {
      if (e instanceof ClientError && e.code === "E_ABORTED") {
        ctx.io.err(`mvmctl: ${vm.name}: interrupted; the agent kills the command when the connection closes\n`);
        return 130;
      }
      ctx.io.err(`mvmctl: ${failure(e).message}\n`);
      return EXEC_FAILED;
    }
  },
});
