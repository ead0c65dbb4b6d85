// `mvmctl serve`: hands over to host/serve.ts (the HTTP bridge), loaded only when this command runs.

import { CliFailure, EXIT, type Command } from "./command.ts";
import type { CliIO } from "./io.ts";

export const serveCommand: Command = {
  name: "serve",
  summary: "Run the HTTP bridge: JSON API, Prometheus /metrics and the dashboard for every VM.",
  usage: "serve [--host 127.0.0.1] [--port 7070] [--token-file FILE | --token T | --no-auth] [--allow-host NAME]...",
  details:
    "Auth is on by default: the token is in ~/.config/mvm/bridge-token (created 0600 on first start) and the dashboard's login address is printed once. " +
    "The bridge reads its own flags (mvmctl serve --help shows them; docs/bridge.md). Ctrl-C stops it cleanly.",
  flags: {},
  args: { min: 0, max: Number.MAX_SAFE_INTEGER },
  async run() {
    throw new Error("serve is dispatched by runCli before flag parsing");
  },
};

/**
 * Load host/serve.ts (so that other commands do not load Hono) and run it with the serve arguments.
 * The global --vms and --timeout are handed on as serve's --vms and --call-timeout-secs.
 */
export async function runServeCommand(args: string[], io: CliIO): Promise<number> {
  let mod: typeof import("../bridge/serve.ts");
  try {
    mod = await import("../bridge/serve.ts");
  } catch (e) {
    throw new CliFailure(EXIT.NOT_OK, `serve is not available: host/serve.ts could not be loaded (${(e as Error).message})`);
  }
  const extra: string[] = [];
  if (io.globals.vms !== undefined) extra.push("--vms", io.globals.vms);
  if (io.globals.timeoutExplicit) extra.push("--call-timeout-secs", String(io.globals.timeoutMs / 1000));
  return mod.runServe([...extra, ...args], {
    stdout: (t) => io.out(t.endsWith("\n") ? t : `${t}\n`),
    stderr: (t) => io.err(t.endsWith("\n") ? t : `${t}\n`),
    signal: io.signal,
    env: io.env,
  });
}
