// Reliability-suite support: a real agent PROCESS from source, and what /proc says about it (RSS, fds, children, zombies).

import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RawClient, tempDir, waitFor } from "../../agent/testing.ts";

export const ROOT = join(import.meta.dir, "../..");

/** Files to put in a config dir: relative path -> JSON value (or text). */
export type ConfigFiles = Record<string, unknown>;

/** Write drop-in files (`integrations.d/x.json`, ...) into `dir`. */
export function writeConfig(dir: string, files: ConfigFiles): void {
  for (const [rel, value] of Object.entries(files)) {
    const path = join(dir, rel);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value, null, 2));
  }
}

export interface AgentProcess {
  pid: number;
  socket: string;
  /** The temp dir: config in `config/`, socket, scratch files. */
  dir: string;
  configDir: string;
  /** The agent's console (stderr), last 256 KiB. */
  console(): string;
  /** Exit code once exited, else null. */
  exitCode(): number | null;
  /** Resolves when the process has exited. */
  exited: Promise<number>;
  /** SIGTERM, wait for the exit (SIGKILL after 10 s), remove the temp dir. */
  stop(): Promise<number>;
}

/**
 * Spawn `bun agent/bin.ts --listen unix:DIR/agent.sock --config-dir DIR/config ...extra` and wait
 * for its socket. Snapshot side effects are kept off the host: no clock setting,
 * drop_caches goes to a temp file. `wrap` runs it under another program that execs it (setpriv), so the pid stays the agent's.
 * @example const a = await spawnAgent({ "integrations.d/ok.json": { name: "ok", health_cmd: "true" } }, ["--frame-timeout-secs", "2"]);
 */
export async function spawnAgent(files: ConfigFiles = {}, extra: string[] = [], env: Record<string, string> = {}, wrap: string[] = []): Promise<AgentProcess> {
  const d = tempDir("mvm-rel-");
  const configDir = join(d.path, "config");
  mkdirSync(configDir, { recursive: true });
  writeConfig(configDir, files);
  const socket = join(d.path, "agent.sock");
  const argv = [
    ...wrap,
    process.execPath,
    join(ROOT, "agent/bin.ts"),
    "--listen",
    `unix:${socket}`,
    "--config-dir",
    configDir,
    "--no-set-clock",
    "--drop-caches-path",
    join(d.path, "drop_caches"),
    ...extra,
  ];
  const proc = Bun.spawn(argv, { stdout: "ignore", stderr: "pipe", stdin: "ignore", env: { ...process.env, ...env } });
  let out = "";
  void (async () => {
    for await (const c of proc.stderr as ReadableStream<Uint8Array>) {
      out += Buffer.from(c).toString();
      if (out.length > 512 * 1024) out = out.slice(-256 * 1024);
    }
  })();
  const exited = proc.exited;
  try {
    // The socket file appears once the listener is up (the `ready` line may be filtered by --log-level).
    await waitFor(() => existsSync(socket) || proc.exitCode !== null, 30_000, "the agent's socket");
  } catch (e) {
    proc.kill("SIGKILL");
    throw e;
  }
  if (proc.exitCode !== null) throw new Error(`agent exited with ${proc.exitCode}:\n${out}`);
  return {
    pid: proc.pid,
    socket,
    dir: d.path,
    configDir,
    console: () => out,
    exitCode: () => proc.exitCode,
    exited,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(t);
      }
      d.cleanup();
      return proc.exitCode ?? -1;
    },
  };
}

/** VmRSS of a process in KiB. */
export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0);
}

/** Open fds of a process, by kind (socket, pipe, anon_inode:[eventfd], /path ...). */
export function fds(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const l = readlinkSync(`/proc/${pid}/fd/${fd}`);
      out.push(l.replace(/\[\d+\]$/, ""));
    } catch {
      // closed while we looked
    }
  }
  return out;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
  comm: string;
}

/** Every process on the machine, from /proc/PID/stat. */
export function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const f = stat.slice(close + 2).split(" ");
    out.push({ pid: Number(name), state: f[0]!, ppid: Number(f[1]), pgid: Number(f[2]), comm });
  }
  return out;
}

/** Descendants of `pid` (children, grandchildren...), live or zombie. */
export function descendants(pid: number, all = processes()): ProcInfo[] {
  const out: ProcInfo[] = [];
  const want = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all)
      if (want.has(p.ppid) && !want.has(p.pid)) {
        want.add(p.pid);
        out.push(p);
        grew = true;
      }
  }
  return out;
}

/** Processes whose command line contains `marker` (commands tagged by the test), other than zombies. */
export function liveWithMarker(marker: string): number[] {
  const out: number[] = [];
  for (const p of processes()) {
    if (p.state === "Z") continue;
    try {
      const cmd = readFileSync(`/proc/${p.pid}/cmdline`, "utf8");
      if (cmd.includes(marker)) out.push(p.pid);
    } catch {
      // gone
    }
  }
  return out;
}

/** Zombie children of the agent. */
export function zombies(pid: number): ProcInfo[] {
  return processes().filter((p) => p.ppid === pid && p.state === "Z");
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

/** Ping on a fresh connection; resolves true when it answers ok. */
export async function freshPing(socket: string, timeoutMs = 30_000): Promise<boolean> {
  const c = await RawClient.connect(socket);
  try {
    const a = await request(c, { type: "ping" }, timeoutMs);
    return a.ok === true;
  } finally {
    c.close();
  }
}

/**
 * The idle RSS floor of `pid`: the lowest VmRSS over a `windowMs` window sampled every 500 ms. An idle Bun
 * process gives memory back in steps, each plateau lasting up to ~7 s (JSC's collections and its page
 * scavenger), so a short "stable" reading can sit on a plateau 40 % above the floor (measured: 130, 102,
 * 82 ... 82, 72 MB over 15 s after the same fuzz work). This is a measurement window, not a wait for an event.
 */
export async function idleRssFloor(pid: number, windowMs = 15_000): Promise<number> {
  let min = rssKb(pid);
  for (const end = Date.now() + windowMs; Date.now() < end; ) {
    await Bun.sleep(500);
    min = Math.min(min, rssKb(pid));
  }
  return min;
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
