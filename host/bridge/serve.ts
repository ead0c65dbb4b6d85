// The bridge on a port over the VMs of vms.json until SIGINT/SIGTERM: options checked, token, listener, clean stop (`mvmctl serve` runs it).

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
  /**
   * stdout is a terminal: the login address with the token is printed at every start. Otherwise (a
   * systemd unit, whose stdout goes to the journal) only when the token file was just created.
   */
  stdoutIsTTY?: boolean;
  /** Environment for MVMCTL_VMS / HOME (default process.env). */
  env?: Record<string, string | undefined>;
}

/** What `mvmctl serve` asks for (host/cli/serve.ts turns flags into this; scripts and tests build it). */
export interface ServeOptions {
  /** Address to bind (default 127.0.0.1); names the bridge in Host headers too, unless a wildcard. */
  host?: string;
  /** TCP port; 0 picks a free one (default 7070). */
  port?: number;
  /**
   * Who may call: a token, a token file (created 0600 when missing), or `"none"` (loopback only).
   * Default: the token file in the config dir (host/bridge/token.ts).
   */
  auth?: { token: string } | { tokenFile: string } | "none";
  /** Host header names answered besides the loopback ones and the bound address (NAME or NAME:PORT). */
  allowHosts?: readonly string[];
  /** The VM list (default: $MVMCTL_VMS, then ~/.config/mvm/vms.json); re-read when it changes. */
  vms?: string;
  /** Deadline of one ordinary agent call in ms (default 5000). */
  callTimeoutMs?: number;
  /** The only directory snapshot and restore requests may name directories under; without it they are 403. */
  snapshotDir?: string;
  /** `mvm_probe_field_value` series per probe (default 20, 0..1000): a probe's JSON object cannot become thousands of series. */
  metricsMaxProbeFields?: number;
}

/** Options that cannot serve safely or at all; the message names the flag (exit 2). */
class ServeOptionsError extends Error {}

/** True for an address only this machine can reach. */
function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

const isWildcard = (host: string) => ["0.0.0.0", "::", "[::]"].includes(host);

interface Checked {
  host: string;
  port: number;
  auth: ServeOptions["auth"];
  allowHosts: string[];
  callTimeoutMs: number;
  snapshotDir?: string;
  metricsMaxProbeFields?: number;
}

/** Check every option before anything starts; throws ServeOptionsError. */
function checkOptions(o: ServeOptions): Checked {
  const host = o.host ?? "127.0.0.1";
  if (!host) throw new ServeOptionsError("--host: empty");
  const port = o.port ?? 7070;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ServeOptionsError(`--port: expected 0..65535, got ${port}`);
  const auth = o.auth;
  if (auth !== undefined && auth !== "none" && "token" in auth) checkToken(auth.token, "--token");
  if (auth !== undefined && auth !== "none" && "tokenFile" in auth && !auth.tokenFile) throw new ServeOptionsError("--token-file: empty");
  if (auth === "none" && !isLoopback(host))
    throw new ServeOptionsError(
      `--no-auth is only allowed on a loopback address (--host 127.0.0.1, ::1 or localhost), not ${host}: anyone who reaches that address could drive your VMs; use the token (the default) instead`,
    );
  const allowHosts = [...(o.allowHosts ?? [])];
  for (const h of allowHosts) parseAllowHost(h);
  const callTimeoutMs = o.callTimeoutMs ?? 5000;
  if (!(callTimeoutMs > 0 && callTimeoutMs <= 3_600_000)) throw new ServeOptionsError(`--call-timeout-secs: expected a number of seconds in (0, 3600], got ${callTimeoutMs / 1000}`);
  let snapshotDir: string | undefined;
  if (o.snapshotDir !== undefined) {
    snapshotDir = resolve(o.snapshotDir);
    let isDir = false;
    try {
      isDir = statSync(snapshotDir).isDirectory();
    } catch {}
    if (!isDir) throw new ServeOptionsError(`--snapshot-dir: ${JSON.stringify(o.snapshotDir)} is not an existing directory`);
  }
  const fields = o.metricsMaxProbeFields;
  if (fields !== undefined && !(Number.isInteger(fields) && fields >= 0 && fields <= 1000))
    throw new ServeOptionsError(`--metrics-max-probe-fields: expected a whole number from 0 to 1000, got ${fields}`);
  return { host, port, auth, allowHosts, callTimeoutMs, ...(snapshotDir ? { snapshotDir } : {}), ...(fields !== undefined ? { metricsMaxProbeFields: fields } : {}) };
}

interface ResolvedToken {
  token: string | null;
  said: string;
  /** Where an operator finds the token, for the login line that does not print it. */
  where: string;
  /** The token file was created by this start. */
  created: boolean;
}

/** Where the token comes from: the options, else the default token file (created when missing). Null with "none". */
function resolveToken(auth: ServeOptions["auth"], env: Record<string, string | undefined>): ResolvedToken {
  if (auth === "none") return { token: null, said: "NO AUTH (--no-auth): every local user and process can drive these VMs", where: "", created: false };
  if (auth && "token" in auth) return { token: auth.token, said: "token from --token", where: "given with --token", created: false };
  const t = loadOrCreateToken(auth?.tokenFile ?? defaultTokenFile(env));
  return { token: t.token, said: `token ${t.created ? "created in" : "from"} ${t.path}`, where: `in ${t.path}`, created: t.created };
}

/**
 * Serve the bridge until `io.signal` aborts or SIGINT/SIGTERM. Resolves with the exit code: 0 after a
 * clean stop, 1 when it cannot start, 2 for options that cannot serve safely (named as their flags).
 * @example process.exit(await serveBridge({ port: 7070, vms: "vms.json" }, { stdout: console.log, stderr: console.error }));
 */
export async function serveBridge(opts: ServeOptions, io: ServeIO): Promise<number> {
  let flags: Checked;
  try {
    flags = checkOptions(opts);
  } catch (e) {
    io.stderr(`mvmctl serve: ${(e as Error).message}`);
    return 2;
  }
  const env = io.env ?? process.env;
  let auth: ResolvedToken;
  try {
    auth = resolveToken(flags.auth, env);
  } catch (e) {
    io.stderr(`mvmctl serve: ${(e as Error).message}`);
    return 1;
  }
  let source: { path: string; current(): VmList };
  try {
    source = watchVmList({ flag: opts.vms, env, onError: (e) => io.stderr(`mvmctl serve: ${e.message}; keeping the last good list`) });
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
    callTimeoutMs: flags.callTimeoutMs,
    ...(flags.snapshotDir ? { snapshotRoot: flags.snapshotDir } : {}),
    ...(flags.metricsMaxProbeFields !== undefined ? { metricsLimits: { probeFields: flags.metricsMaxProbeFields } } : {}),
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
    bridge.close();
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
  // The token in a log line is the token in the journal (readable by adm, systemd-journal): only on a
  // terminal, or on the start that just made it (the operator has to learn it once).
  if (auth.token !== null) io.stdout(io.stdoutIsTTY || auth.created ? `dashboard: ${loginUrl}` : `dashboard: ${url} (log in with /?token= and the token ${auth.where})`);
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
  bridge.close();
  await server.stop(true);
  await pool.close();
  io.stdout("mvm bridge stopped");
  return 0;
}
