// Processes the packaging tests start (to the end, or kept running with their output), and the hostile
// working directory they start them in.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../../agent/testing.ts";

export const ROOT = join(import.meta.dir, "../..");

/** The result of one command. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a command to its end (no deadline of its own: bun test's per-test timeout is the deadline). */
export async function run(argv: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<Ran> {
  const t0 = performance.now();
  const p = Bun.spawn(argv, { cwd: opts.cwd ?? ROOT, env: opts.env ?? (process.env as Record<string, string>), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr, ms: performance.now() - t0 };
}

/** A directory whose bunfig.toml preloads code, whose .env names another VM list, and whose tsconfig breaks JSX. */
export function hostileCwd(dir: string, marker: string): string {
  const cwd = join(dir, "hostile cwd");
  mkdirSync(cwd);
  writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./evil.ts"]\n');
  writeFileSync(join(cwd, "evil.ts"), `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "preloaded");\n`);
  writeFileSync(join(cwd, ".env"), `MVMCTL_VMS=${join(dir, "nonexistent.json")}\n`);
  writeFileSync(join(cwd, "tsconfig.json"), JSON.stringify({ compilerOptions: { jsx: "react-jsx", jsxImportSource: "react" } }));
  return cwd;
}

/** A running process whose stderr and stdout are collected. */
export function spawnLogged(argv: string[], opts: { cwd: string; env: Record<string, string> }) {
  const proc = Bun.spawn(argv, { ...opts, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let out = "";
  for (const s of [proc.stdout, proc.stderr])
    void (async () => {
      for await (const c of s as ReadableStream<Uint8Array>) out += Buffer.from(c).toString();
    })();
  return {
    proc,
    output: () => out,
    /** The first match of `re` in the output; throws with the output when the process exits first. */
    async match(re: RegExp, what: string): Promise<RegExpExecArray> {
      await waitFor(() => re.test(out) || proc.exitCode !== null, 30_000, what);
      const m = re.exec(out);
      if (!m) throw new Error(`${what}: the process exited ${proc.exitCode} first:\n${out}`);
      return m;
    },
    /** SIGTERM, and SIGKILL if it is still there after 10 s; resolves with the exit code. */
    async stop(): Promise<number> {
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      const code = await proc.exited;
      clearTimeout(t);
      return code;
    },
  };
}

