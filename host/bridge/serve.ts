// `mvmctl serve`: the bridge on a local port over the VMs of vms.json, until SIGINT/SIGTERM.

import { statSync } from "node:fs";
import { resolve } from "node:path";
import { createLogger } from "../../agent/log.ts";
import { clientPool } from "./pool.ts";
import { parseAllowHost, parseHost } from "./hosts.ts";
import { checkToken, defaultTokenFile, loadOrCreateToken } from "./token.ts";
import { createBridge } from "./app.ts";
import { watchVmList, type VmList } from "../client/vm-list.ts";

export interface ServeIO {
  stdout(t: string): void;
  stderr(t: string): void;
  /** Stop serving when aborted (tests); otherwise SIGINT/SIGTERM stop it. */
  signal?: AbortSignal;
  /** Told the bound URL once listening (tests use port 0), and the token with the dashboard's login address. */
  onListening?(url: string, auth: { token: string | null; loginUrl: string }): void;
  /** Environment for MVMCTL_VMS / HOME (default process.env). */
  env?: Record<string, string | undefined>;
}

export const SERVE_HELP = `Usage: mvmctl serve [--host 127.0.0.1] [--port 7070] [--token-file FILE | --token T | --no-auth]
                   [--allow-host NAME]... [--vms FILE]

Serve the HTTP bridge over every VM in vms.json: /api/vms..., /metrics (Prometheus),
/openapi.json, and the dashboard at /. Runs until Ctrl-C (SIGINT) or SIGTERM.

Every route but /healthz needs the bridge's token: "Authorization: Bearer TOKEN" from programs
(curl, Prometheus), or in a browser the dashboard address printed at start (/?token=TOKEN, once;
then a cookie). Without --token or --token-file the token is read from
$XDG_CONFIG_HOME/mvm/bridge-token (default ~/.config/mvm/bridge-token), which is created on the
first start (32 random bytes, mode 0600, directory 0700). Requests must name the bridge in their
Host header: 127.0.0.1, [::1] or localhost with its port, the --host address, or an --allow-host.
Changes (POST) need Content-Type: application/json and, from a browser, the bridge's own origin.

Flags:
  --host H              Address to bind (default 127.0.0.1)
  --port N              TCP port (default 7070; 0 picks a free one)
  --token-file FILE     Read the token from FILE, or create FILE with a new one when it is missing;
                        refused when group or others can read it (chmod 600)
  --token T             The token itself (visible in ps: prefer --token-file)
  --no-auth             No token at all; only with a loopback --host (127.0.0.1, ::1, localhost)
  --allow-host NAME     Also answer requests whose Host is NAME (any port) or NAME:PORT; repeatable.
                        For the DNS name clients use, e.g. a central Prometheus:
                        --host 10.0.0.5 --allow-host bridge-a.internal (and its bearer token)
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
  tokenFile?: string;
  noAuth: boolean;
  allowHosts: string[];
  vms?: string;
  callTimeoutSecs: number;
  snapshotDir?: string;
  help: boolean;
}

/** True for an address only this machine can reach. */
function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

const VALUE_FLAGS = new Set(["host", "port", "token", "token-file", "allow-host", "vms", "call-timeout-secs", "snapshot-dir"]);

const isWildcard = (host: string) => ["0.0.0.0", "::", "[::]"].includes(host);

function parseServeFlags(args: string[]): ServeFlags {
  const f: ServeFlags = { host: "127.0.0.1", port: 7070, noAuth: false, allowHosts: [], callTimeoutSecs: 5, help: false };
  for (let i = 0; i < args.length; i++) {
    const raw = args[i]!;
    const eq = raw.indexOf("=");
    const name = raw.startsWith("--") ? (eq > 0 ? raw.slice(2, eq) : raw.slice(2)) : null;
    if (name === null) throw new Error(`unexpected argument ${JSON.stringify(raw)} (see mvmctl serve --help)`);
    if (name === "help" || name === "no-auth") {
      if (eq > 0) throw new Error(`--${name} takes no value`);
      if (name === "help") f.help = true;
      else f.noAuth = true;
      continue;
    }
    if (!VALUE_FLAGS.has(name)) throw new Error(`unknown flag --${name} (see mvmctl serve --help)`);
    const value = eq > 0 ? raw.slice(eq + 1) : args[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    switch (name) {
      case "host":
        if (!value) throw new Error("--host: empty");
        f.host = value;
        break;
      case "port": {
        const n = Number(value);
        if (!/^\d+$/.test(value) || n > 65535) throw new Error(`--port: expected 0..65535, got ${JSON.stringify(value)}`);
        f.port = n;
        break;
      }
      case "token":
        f.token = checkToken(value, "--token");
        break;
      case "token-file":
        if (!value) throw new Error("--token-file: empty");
        f.tokenFile = value;
        break;
      case "allow-host":
        parseAllowHost(value);
        f.allowHosts.push(value);
        break;
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
    }
  }
  if (f.token !== undefined && f.tokenFile !== undefined) throw new Error("--token and --token-file: give one of them");
  if (f.noAuth && (f.token !== undefined || f.tokenFile !== undefined)) throw new Error("--no-auth cannot be combined with --token or --token-file");
  if (f.noAuth && !isLoopback(f.host))
    throw new Error(`--no-auth is only allowed on a loopback address (--host 127.0.0.1, ::1 or localhost), not ${f.host}: anyone who reaches that address could drive your VMs; use the token (the default) instead`);
  return f;
}

/** Where the token comes from: the flags, else the default token file (created when missing). Null with --no-auth. */
function resolveToken(flags: ServeFlags, env: Record<string, string | undefined>): { token: string | null; said: string } {
  if (flags.noAuth) return { token: null, said: "NO AUTH (--no-auth): every local user and process can drive these VMs" };
  if (flags.token !== undefined) return { token: flags.token, said: "token from --token" };
  const t = loadOrCreateToken(flags.tokenFile ?? defaultTokenFile(env));
  return { token: t.token, said: `token ${t.created ? "created in" : "from"} ${t.path}` };
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
  let auth: { token: string | null; said: string };
  try {
    auth = resolveToken(flags, env);
  } catch (e) {
    io.stderr(`mvmctl serve: ${(e as Error).message}`);
    return 1;
  }
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
  let bound: number | undefined;
  // The --host address names the bridge too, unless it is a wildcard (then only loopback names and --allow-host).
  const hostName = flags.host.includes(":") && !flags.host.startsWith("[") ? `[${flags.host}]` : flags.host;
  const bridge = createBridge({
    vms: () => source.current().vms,
    call: pool.call,
    token: auth.token,
    allowHosts: flags.allowHosts,
    bindAddress: isWildcard(flags.host) || !parseHost(hostName) ? undefined : hostName,
    port: () => bound,
    log,
    callTimeoutMs: flags.callTimeoutSecs * 1000,
    ...(flags.snapshotDir ? { snapshotRoot: flags.snapshotDir } : {}),
  });
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: flags.host,
      port: flags.port,
      fetch: bridge.fetch,
      idleTimeout: 0,
      // Never Bun's development error page (it shows source code); the app answers its own errors as JSON.
      development: false,
      // Bun's production mode would share the port (SO_REUSEPORT) with a second listener; one bridge per port.
      reusePort: false,
      error: () => Response.json({ code: "E_INTERNAL", message: "internal error in the bridge" }, { status: 500 }),
    });
  } catch (e) {
    await pool.close();
    const msg = (e as Error).message;
    io.stderr(`mvmctl serve: cannot listen on ${flags.host}:${flags.port}: ${/in use|EADDRINUSE/i.test(msg) ? "the port is already in use (try --port)" : msg}`);
    return 1;
  }
  bound = server.port;
  // A wildcard bind is reached here as loopback (the Host allow-list would refuse 0.0.0.0).
  const shown = flags.host === "0.0.0.0" ? "127.0.0.1" : isWildcard(flags.host) ? "[::1]" : hostName;
  const url = `http://${shown}:${server.port}/`;
  const loginUrl = auth.token === null ? url : `${url}?token=${encodeURIComponent(auth.token)}`;
  io.stdout(`mvm bridge on ${url} (${vms.length} VMs from ${path}; ${auth.said}${flags.snapshotDir ? `; snapshots under ${flags.snapshotDir}` : ""})`);
  if (auth.token !== null) io.stdout(`dashboard: ${loginUrl}`);
  io.onListening?.(url, { token: auth.token, loginUrl });
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
