// `mvmctl serve`: dispatches to host/serve.ts (the HTTP bridge), loaded only when this command runs.

import { CliFailure, EXIT, type Command } from "./command.ts";

/** What host/serve.ts exports. */
type ServeModule = { runServe(args: string[], io: import("./io.ts").CliIO): Promise<number> };

export const serveCommand: Command = {
  name: "serve",
  summary: "Run the HTTP bridge: JSON API, Prometheus /metrics and the dashboard for every VM.",
  usage: "serve [--host 127.0.0.1] [--port 7070] [--token T]",
  details: "Flags are read by the bridge itself; see docs/bridge.md. Ctrl-C stops it cleanly.",
  flags: {},
  args: { min: 0, max: Number.MAX_SAFE_INTEGER },
  async run() {
    throw new Error("serve is dispatched by runCli before flag parsing");
  },
};

/** Load host/serve.ts and hand it the raw arguments; a clear error while it is not there. */
export async function runServeCommand(args: string[], io: import("./io.ts").CliIO): Promise<number> {
  const spec = "../serve.ts";
  let mod: Partial<ServeModule>;
  try {
    mod = (await import(spec)) as Partial<ServeModule>;
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    if (/Cannot find module|not found|ENOENT/i.test(msg) && msg.includes("serve"))
      throw new CliFailure(EXIT.NOT_OK, "serve is not available in this build yet (host/serve.ts is missing)");
    throw e;
  }
  if (typeof mod.runServe !== "function") throw new CliFailure(EXIT.NOT_OK, "serve is not available: host/serve.ts does not export runServe(args, io)");
  return mod.runServe(args, io);
}
