// mvmctl as a real child process on a pseudo-terminal (util-linux `script`), for tests of what a terminal sees:
// rewritten progress lines, --watch redraws, Ctrl-C. Beside host/testing.ts, like testing-browser.ts.

import { resolve } from "node:path";
import { waitFor } from "../agent/testing.ts";

const BIN = resolve(import.meta.dir, "cli/bin.ts");

/** A running mvmctl on a terminal. */
export interface PtyRun {
  /** Everything the terminal received so far (the pty turns `\n` into `\r\n`). */
  output(): string;
  /** Wait until the output matches, or fail after `ms` with what was seen. */
  waitFor(pattern: RegExp, ms?: number): Promise<void>;
  /** Type Ctrl-C: the terminal sends SIGINT to mvmctl's process group, as a user's key would. */
  interrupt(): void;
  /** mvmctl's exit code (`script -e` passes it on). */
  readonly exited: Promise<number>;
  /** The `script` process's pid (mvmctl is its child). */
  readonly pid: number;
  /** Kill whatever is left (for afterEach). */
  kill(): void;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Run `bun host/cli/bin.ts ARGV...` on a fresh pseudo-terminal of `cols` x `rows` (`stty` sets it
 * before mvmctl starts), with exactly `env` (plus PATH and HOME). Needs util-linux `script`.
 * @example const p = mvmctlInPty(["--vms", vmsFile, "ls", "--watch"], { env: { TERM: "xterm" } }); await p.waitFor(/vm1/); p.interrupt(); expect(await p.exited).toBe(0);
 */
export function mvmctlInPty(argv: string[], opts: { env?: Record<string, string>; cols?: number; rows?: number } = {}): PtyRun {
  const cmd = `stty cols ${opts.cols ?? 100} rows ${opts.rows ?? 30}; exec ${[process.execPath, BIN, ...argv].map(quote).join(" ")}`;
  const proc = Bun.spawn(["script", "-qefc", cmd, "/dev/null"], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...opts.env },
  });
  let text = "";
  const dec = new TextDecoder();
  const pump = (async () => {
    for await (const chunk of proc.stdout) text += dec.decode(chunk, { stream: true });
  })();
  return {
    output: () => text,
    async waitFor(pattern, ms = 20_000) {
      await waitFor(() => pattern.test(text), ms, `${pattern} on the terminal; it shows ${JSON.stringify(text.slice(-2000))}`);
    },
    interrupt() {
      proc.stdin.write("\x03");
      proc.stdin.flush();
    },
    exited: proc.exited.then(async (code) => (await pump, code)),
    pid: proc.pid,
    kill() {
      proc.kill("SIGKILL");
    },
  };
}

/** True when util-linux `script` is here (Debian: bsdutils); tests that need a terminal say SKIPPED without it. */
export function havePty(): boolean {
  return Bun.spawnSync(["sh", "-c", "command -v script"]).exitCode === 0;
}
