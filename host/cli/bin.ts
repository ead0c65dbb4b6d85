#!/usr/bin/env bun
// mvmctl: the operator's command line over the guest agents listed in vms.json (process wiring only).

import pkg from "../../package.json" with { type: "json" };
import { runCli } from "./run.ts";

async function main(): Promise<number> {
  const stop = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    // First Ctrl-C: stop cleanly (logs -f, serve, exec return); second: leave at once.
    if (++interrupts > 1) process.exit(sig === "SIGINT" ? 130 : 143);
    stop.abort(new Error(sig));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0); // `mvmctl diff vm | head`
  });
  const write = (stream: NodeJS.WriteStream) => (chunk: string | Uint8Array) => void stream.write(chunk);
  const code = await runCli(
    process.argv.slice(2),
    {
      out: write(process.stdout),
      outBytes: write(process.stdout),
      err: write(process.stderr),
      errBytes: write(process.stderr),
      readStdin: async () => new Uint8Array(await new Response(Bun.stdin.stream()).arrayBuffer()),
      stdoutIsTTY: process.stdout.isTTY === true,
      ...(process.stdout.isTTY ? { columns: process.stdout.columns, rows: process.stdout.rows } : {}),
      env: process.env,
      signal: stop.signal,
      now: () => Date.now(),
      // A compiled binary runs its entry from Bun's embedded file system.
      compiled: (process.argv[1] ?? "").includes("$bunfs"),
    },
    // Imported, not read at run time: a compiled dist/mvmctl has no package.json beside it.
    pkg.version,
  );
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  return code;
}

if (import.meta.main) {
  const code = await main();
  // Let stdout drain before leaving (large diffs piped to a file).
  if (process.stdout.writableLength > 0) await new Promise<void>((r) => process.stdout.once("drain", () => r()));
  process.exit(code);
}
