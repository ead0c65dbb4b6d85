// `mvmctl serve`: the bridge on a local port over the VMs of vms.json, until SIGINT/SIGTERM.

import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { createLogger } from "../agent/log.ts";
import { clientPool } from "./bridge-pool.ts";
import { createBridge } from "./bridge.ts";
import { watchVmList, type VmList } from "./registry.ts";

export interface ServeIO {
  stdout(t: string): void;
  stderr(t: string): void;
  /** Stop serving when aborted (tests); otherwise SIGINT/SIGTERM stop it. */
  signal?: AbortSignal;
  /** Told the bound URL once listening (tests use port 0). */
  onListening?(url: string): void;
  /** Environment for MVMCTL_VMS / HOME (default process.env). */
  env?: Record<string, string | undefined>;
}

export const SERVE_HELP = `Usage: mvmctl serve [--host 127.0.0.1] [--port 7070] [--token T | --token-file FILE] [--vms FILE]

Serve the HTTP bridge over every VM in vms.json: /api/vms..., /metrics (Prometheus),
/openapi.json, and the dashboard at /. Runs until Ctrl-C (SIGINT) or SIGTERM.

Flags:
  --host H              Address to bind (default 127.0.0.1; anything else should have a token)
  --port N              TCP port (default 7070; 0 picks a free one)
  --token T             Require "Authorization: Bearer T" on every route but /healthz
  --token-file FILE     Read the token from FILE (keeps it out of ps)
  --vms FILE            The VM list (default: $MVMCTL_VMS, then ~/.config/mvm/vms.json);
                        re-read when it changes
  --call-timeout-secs S Deadline of one agent call (default 5)
  --snapshot-dir DIR    Allow POST /api/vms/NAME/snapshot and /restore, with directories named
                        relative to DIR only (without it those routes answer 403)
  --help                Show this help`;

interface ServeFlags {
  host: string;
  port: number;
  token?: string;
  vms?: string;
  callTimeoutSecs: number;
  snapshotDir?: string;
  help: boolean;
}

function parseServeFlags(args: string[]): ServeFlags {
  const f: ServeFlags = { host: "127.0.0.1", port: 7070, callTimeoutSecs: 5, help: false };
  for (let i = 0; i < args.length; i++) {
    const raw = args[i]!;
    const eq = raw.indexOf("=");
    const name = raw.startsWith("--") ? (eq > 0 ? raw.slice(2, eq) : raw.slice(2)) : null;
    if (name === null) throw new Error(`unexpected argument ${JSON.stringify(raw)} (see mvmctl serve --help)`);
    if (name === "help") {
      f.help = true;
      continue;
    }
    const value = eq > 0 ? raw.slice(eq + 1) : args[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    switch (name) {
      case "host":
        f.host = value;
        break;
      case "port": {
        const n = Number(value);
        if (!/^\d+$/.test(value) || n > 65535) throw new Error(`--port: expected 0..65535, got ${JSON.stringify(value)}`);
        f.port = n;
        break;
      }
      case "token":
        if (!value) throw new Error("--token: empty");
        f.token = value;
        break;
      case "token-file": {
        let t: string;
        try {
          t = readFileSync(value, "utf8").trim();
        } catch (e) {
          throw new Error(`--token-file ${value}: ${(e as Error).message}`);
        }
        if (!t) throw new Error(`--token-file ${value}: the file is empty`);
        f.token = t;
        break;
      }
      case "vms":
        f.vms = value;
        break;
      case "snapshot-dir": {
        const dir = resolve(value);
        let isDir = false;
        try {
          isDir = statSync(dir).isDirectory();
        } catch {}
        if (!isDir) throw new Error(`--snapshot-dir: ${JSON.stringify(value)} is not an existing directory`);
        f.snapshotDir = dir;
        break;
      }
      case "call-timeout-secs": {
        const n = Number(value);
        if (!(n > 0 && n <= 3600)) throw new Error(`--call-timeout-secs: expected a number of seconds in (0, 3600], got ${JSON.stringify(value)}`);
        f.callTimeoutSecs = n;
        break;
      }
      default:
        throw new Error(`unknown flag --${name} (see mvmctl serve --help)`);
    }
  }
  return f;
}

/**
 * Run `mvmctl serve`. Resolves with the exit code: 0 after a clean stop, 1 when it cannot start,
 * 2 for bad flags.
 * @example process.exit(await runServe(["--port", "7070"], { stdout: console.log, stderr: console.error }));
 */
export async function runServe(args: string[], io: ServeIO): Promise<number> {
  let flags: ServeFlags;
  try {
    flags = parseServeFlags(args);
  } catch (e) {
    io.stderr(`mvmctl serve: ${(e as Error).message}`);
    return 2;
  }
  if (flags.help) {
    io.stdout(SERVE_HELP);
    return 0;
  }
  const env = io.env ?? process.env;
  let source: { path: string; current(): VmList };
  try {
    source = watchVmList({ flag: flags.vms, env, onError: (e) => io.stderr(`mvmctl serve: ${e.message}; keeping the last good list`) });
  } catch (e) {
    io.stderr(`mvmctl serve: ${(e as Error).message}`);
    return 1;
  }
  const path = source.path;
  const vms = source.current().vms;
  const log = createLogger({ sink: (l) => io.stderr(l) }).child("bridge");
  const pool = clientPool();
  const bridge = createBridge({
    vms: () => source.current().vms,
    call: pool.call,
    token: flags.token,
    log,
    callTimeoutMs: flags.callTimeoutSecs * 1000,
    ...(flags.snapshotDir ? { snapshotRoot: flags.snapshotDir } : {}),
  });
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({ hostname: flags.host, port: flags.port, fetch: bridge.fetch, idleTimeout: 0 });
  } catch (e) {
    await pool.close();
    const msg = (e as Error).message;
    io.stderr(`mvmctl serve: cannot listen on ${flags.host}:${flags.port}: ${/in use|EADDRINUSE/i.test(msg) ? "the port is already in use (try --port)" : msg}`);
    return 1;
  }
  const host = flags.host.includes(":") ? `[${flags.host}]` : flags.host;
  const url = `http://${host}:${server.port}/`;
  io.stdout(`mvm bridge on ${url} (${vms.length} VMs from ${path}${flags.token ? ", bearer token required" : ""}${flags.snapshotDir ? `, snapshots under ${flags.snapshotDir}` : ""})`);
  if (!flags.token && !/^(127\.|localhost$|::1$)/.test(flags.host))
    io.stderr(`mvmctl serve: WARNING: listening on ${flags.host} without --token: anyone who can reach this port can drive your VMs`);
  io.onListening?.(url);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    if (io.signal?.aborted) stop();
    io.signal?.addEventListener("abort", stop, { once: true });
  });
  await server.stop(true);
  await pool.close();
  io.stdout("mvm bridge stopped");
  return 0;
}
