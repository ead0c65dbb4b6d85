// A real agent process (from source or a compiled binary) on temp unix sockets, and requests to it over the wire.

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RawClient, tempDir, waitFor, writeFiles, type TestFiles } from "../../agent/testing.ts";
import { ROOT } from "./binaries.ts";

export interface SpawnOptions {
  /** A compiled binary (see agentBinaries); default: `bun agent/bin.ts`, from source. */
  bin?: string;
  /** Another entry file run from source with bun instead of agent/bin.ts (a main with fewer modules). */
  entry?: string;
  /** Drop-in files written into the config dir before the start. */
  files?: TestFiles;
  /** An existing config dir to serve instead of a new one (a test that built a hostile tree). */
  configDir?: string;
  /** Flags after --listen and --config-dir. */
  args?: string[];
  env?: Record<string, string>;
  /** A program that execs the agent (setpriv ...), so the pid stays the agent's. */
  wrap?: string[];
  /** Unix sockets to serve (default 1): `sockets` lists them, `socket` is the first. */
  sockets?: number;
  /**
   * Keep the snapshot plugin's side effects off the machine running the test: --no-set-clock and
   * drop_caches written to a temp file (default true).
   */
  hostSafe?: boolean;
  /** How long the agent may take to listen (default 30 s). */
  timeoutMs?: number;
}

export interface SpawnedAgent {
  pid: number;
  socket: string;
  sockets: string[];
  /** The temp dir: config in `config/`, sockets, scratch files. */
  dir: string;
  configDir: string;
  /** The agent's console (stderr), its last 256 KiB at least. */
  console(): string;
  /** Exit code once exited, else null. */
  exitCode(): number | null;
  /** Resolves with the exit code when the process has exited. */
  exited: Promise<number>;
  /**
   * A raw frame client on the first socket, past its first frame (a ping answered): an idle control
   * connection that had sent nothing was closed by --frame-timeout-secs (10 s) while a long test step ran.
   */
  connect(): Promise<RawClient>;
  /** SIGTERM, wait for the exit (SIGKILL after 10 s), remove the temp dir; resolves with the exit code. */
  stop(): Promise<number>;
}

/**
 * Spawn the agent on unix sockets in a new temp dir and wait until every socket exists (the listeners
 * are up). A start that fails throws with the agent's console.
 * @example
 * const a = await spawnAgent({ files: { "integrations.d/ok.json": { name: "ok", health_cmd: "true" } }, args: ["--log-level", "warn"] });
 * const c = await a.connect();
 * await a.stop();
 */
export async function spawnAgent(o: SpawnOptions = {}): Promise<SpawnedAgent> {
  const d = tempDir("mvm-agent-");
  const configDir = o.configDir ?? join(d.path, "config");
  mkdirSync(configDir, { recursive: true });
  writeFiles(configDir, o.files ?? {});
  const sockets = Array.from({ length: o.sockets ?? 1 }, (_, i) => join(d.path, i === 0 ? "agent.sock" : `agent${i}.sock`));
  const argv = [
    ...(o.wrap ?? []),
    ...(o.bin ? [o.bin] : [process.execPath, o.entry ?? join(ROOT, "agent/bin.ts")]),
    ...sockets.flatMap((s) => ["--listen", `unix:${s}`]),
    "--config-dir",
    configDir,
    ...(o.hostSafe === false ? [] : ["--no-set-clock", "--drop-caches-path", join(d.path, "drop_caches")]),
    ...(o.args ?? []),
  ];
  const proc = Bun.spawn(argv, { stdout: "ignore", stderr: "pipe", stdin: "ignore", env: { ...process.env, ...o.env } });
  let out = "";
  const pump = (async () => {
    for await (const c of proc.stderr as ReadableStream<Uint8Array>) {
      out += Buffer.from(c).toString();
      if (out.length > 512 * 1024) out = out.slice(-256 * 1024);
    }
  })();
  // The console is read to its end before `exited` resolves, so a failed start says why.
  const exited = Promise.all([proc.exited, pump]).then(([code]) => code);
  try {
    // The socket files appear at bind(), a moment before listen(): wait until each one listens (the `ready` line may be filtered by --log-level).
    await waitFor(() => (sockets.every((s) => existsSync(s)) && listeningOn(sockets)) || proc.exitCode !== null, o.timeoutMs ?? 30_000, "the agent's sockets");
  } catch (e) {
    proc.kill("SIGKILL");
    await exited;
    d.cleanup();
    throw new Error(`${(e as Error).message}; its console:\n${out}`);
  }
  if (proc.exitCode !== null) {
    const code = await exited;
    d.cleanup();
    throw new Error(`the agent exited with ${code}:\n${out}`);
  }
  return {
    pid: proc.pid,
    socket: sockets[0]!,
    sockets,
    dir: d.path,
    configDir,
    console: () => out,
    exitCode: () => proc.exitCode,
    exited,
    async connect() {
      const c = await RawClient.connect(sockets[0]!);
      const pong = (await c.request({ type: "ping" })) as { ok?: boolean } | null;
      if (pong?.ok !== true) throw new Error(`the agent did not answer ping on a new connection: ${JSON.stringify(pong)}`);
      return c;
    },
    async stop() {
      if (proc.exitCode === null) {
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(t);
      }
      await exited;
      d.cleanup();
      return proc.exitCode ?? -1;
    },
  };
}

/**
 * True when every path is a unix socket something listens on now: /proc/net/unix lists them with the
 * __SO_ACCEPTCON flag (0x10000). A connect before that is refused (ECONNREFUSED), which made tests flaky.
 */
function listeningOn(paths: string[]): boolean {
  const listening = new Set<string>();
  for (const line of readFileSync("/proc/net/unix", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && (parseInt(f[3]!, 16) & 0x10000) !== 0) listening.add(f.slice(7).join(" "));
  }
  return paths.every((p) => listening.has(p));
}

let seq = 0;

/** Send a request with a fresh id and wait for its final answer (skipping events and other ids). */
export async function request(c: RawClient, body: Record<string, unknown>, timeoutMs = 30_000): Promise<any> {
  const id = `r${++seq}`;
  c.send({ ...body, id });
  for (;;) {
    const f = (await c.next(timeoutMs)) as any;
    if (f === null) throw new Error(`connection closed before the answer to ${JSON.stringify(body).slice(0, 200)}`);
    if (f && f.id === id && f.event === undefined) return f;
  }
}

/** One request on a connection of its own (so several can run at once); the connection is closed after. */
export async function call(socket: string, body: Record<string, unknown>, timeoutMs = 60_000): Promise<any> {
  const c = await RawClient.connect(socket);
  try {
    return await request(c, body, timeoutMs);
  } finally {
    c.close();
  }
}

/** Ping on a fresh connection; resolves true when it answers ok. */
export async function freshPing(socket: string, timeoutMs = 30_000): Promise<boolean> {
  return (await call(socket, { type: "ping" }, timeoutMs)).ok === true;
}

/**
 * Wait until the agent counts only `expected` connections (the caller's own status connection
 * included), so fd counts compare like with like.
 */
export async function waitConnections(client: RawClient, expected: number, timeoutMs = 30_000): Promise<void> {
  let last = -1;
  await waitFor(
    async () => {
      const s = await request(client, { type: "status" });
      last = s.result?.connections;
      return last === expected;
    },
    timeoutMs,
    `the agent to count ${expected} connection(s) (last: ${last})`,
  );
}
