// The shared command runner: own process group, deadlines kill the group and whatever escaped it
// (agent/track.ts), output drained and capped, never a wait on pipes past a deadline.

import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { resolve } from "node:path";
import { systemClock, type Clock } from "./clock.ts";
import { Capture, readStream } from "./capture.ts";
import { trackingFor, type TrackingMode } from "./track.ts";

/**
 * Environment variables that make Bun or Node load or evaluate code: `BUN_OPTIONS` (`--preload`,
 * `--require`, `--import`, `--inspect`; a compiled binary honours it), `BUN_BE_BUN` (a compiled binary
 * becomes the bun CLI), `BUN_INSPECT` and `BUN_INSPECT_CONNECT_TO` (a debugger, which evaluates what its
 * client sends), `NODE_OPTIONS` (`--require`, `--import`, `--inspect` for node). Meant, if ever, for the
 * agent's own process: commands never inherit them (a `CommandSpec.env` given on purpose still sets them).
 */
export const CODE_LOADING_ENV = ["BUN_OPTIONS", "BUN_BE_BUN", "BUN_INSPECT", "BUN_INSPECT_CONNECT_TO", "NODE_OPTIONS"] as const;

/** The agent's environment as a command inherits it: without CODE_LOADING_ENV. */
function inherited(): Record<string, string | undefined> {
  const env = { ...process.env };
  for (const k of CODE_LOADING_ENV) delete env[k];
  return env;
}

export interface CommandSpec {
  /** Run with `/bin/sh -c`. Exactly one of `command` and `argv`. */
  command?: string;
  /** Run directly, no shell. */
  argv?: string[];
  /** Extra environment, on top of the agent's own (unless `inheritEnv: false`). */
  env?: Record<string, string>;
  inheritEnv?: boolean;
  cwd?: string;
  /** Kill the whole process group after this long; the result says `timed_out`. */
  timeoutMs?: number;
  /** Bytes kept per stream (default 64 KiB); the rest is counted, not kept. */
  maxOutputBytes?: number;
  /** Keep the first bytes (default) or the last ones. Cuts never split a UTF-8 character. */
  keep?: "head" | "tail";
  /** Move cuts to a UTF-8 character boundary (default true); false keeps exactly the cap (binary output). */
  cutUtf8?: boolean;
  stdin?: string | Uint8Array;
  /** Aborting kills the process group (a client went away, a drain deadline passed). */
  signal?: AbortSignal;
  /**
   * Every chunk as it arrives, before capping (for streaming). When it returns a promise, that stream
   * is not read again until it settles: a consumer that cannot keep up (a client not reading its
   * events) makes the command block on a full pipe, and nothing is lost or buffered here.
   */
  onOutput?: (stream: "stdout" | "stderr", chunk: Uint8Array) => void | Promise<void>;
  /**
   * After the main process exits, kill what is left of its group (default true), so a check that
   * left a grandchild running does not keep it alive. Set false for commands meant to start daemons.
   */
  killGroupOnExit?: boolean;
  clock?: Clock;
  /** Track the command this way instead of the process's choice (tests force `proc`). */
  tracking?: TrackingMode;
}

export interface CommandResult {
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  /** Killed because `signal` was aborted. */
  aborted: boolean;
  /** Set when the command could not be started at all (no such binary, bad cwd). */
  spawn_error: string | null;
  stdout: Uint8Array;
  stderr: Uint8Array;
  stdout_bytes: number;
  stderr_bytes: number;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
  duration_ms: number;
  /** Wall-clock ms at start. */
  started_at: number;
}

export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;

function killGroup(pid: number, sig: NodeJS.Signals = "SIGKILL"): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // The group is already gone.
  }
}

/**
 * Run a command in its own process group. Never throws for the command's sake: failures to
 * start, timeouts and signals are all in the result.
 * @example
 * const r = await runCommand({ command: "curl -sf localhost:8080/health", timeoutMs: 5000 });
 * if (r.timed_out) console.log("timed out");
 */
export async function runCommand(spec: CommandSpec): Promise<CommandResult> {
  const clock = spec.clock ?? defaultClock;
  const start = clock.monotonic();
  const startedAt = clock.now();
  const max = spec.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const keep = spec.keep ?? "head";
  const out = new Capture(max, keep, spec.cutUtf8);
  const err = new Capture(max, keep, spec.cutUtf8);
  const argv = spec.argv ?? ["/bin/sh", "-c", spec.command ?? ""];
  const finish = (partial: Partial<CommandResult>): CommandResult => {
    const o = out.result();
    const e = err.result();
    return {
      exit_code: null,
      signal: null,
      timed_out: false,
      aborted: false,
      spawn_error: null,
      stdout: o.bytes,
      stderr: e.bytes,
      stdout_bytes: out.total,
      stderr_bytes: err.total,
      stdout_truncated: o.truncated,
      stderr_truncated: e.truncated,
      duration_ms: Math.round((clock.monotonic() - start) * 100) / 100,
      started_at: startedAt,
      ...partial,
    };
  };
  if (argv.length === 0 || (spec.command === undefined && spec.argv === undefined)) {
    return finish({ spawn_error: "no command given" });
  }
  if (spec.signal?.aborted) return finish({ aborted: true, spawn_error: "aborted before start" });

  const track = trackingFor(spec.tracking).begin();
  // The tracking marker goes first (a key keeps its first place when spread again to win over spec.env):
  // a /proc scan reads only the start of each environment (MAX_ENVIRON_SCAN_BYTES in track.ts).
  const env = spec.inheritEnv === false ? { ...track.env, ...spec.env, ...track.env } : { ...track.env, ...inherited(), ...spec.env, ...track.env };
  const wrapped = track.wrap(argv);
  // Through the cgroup shell, a missing program would be the shell's exit 127: say it as spawn would.
  const cannot = wrapped !== argv ? cannotSpawn(argv[0]!, spec.cwd, env.PATH) : null;
  if (cannot) {
    track.end();
    return finish({ spawn_error: cannot });
  }
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(wrapped, {
      cwd: spec.cwd,
      env: env as Record<string, string>,
      stdin: spec.stdin === undefined ? "ignore" : "pipe",
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
    });
  } catch (e) {
    track.end();
    return finish({ spawn_error: (e as Error).message });
  }
  const pid = proc.pid;
  runnerChildren.add(pid);
  void proc.exited.finally(() => runnerChildren.delete(pid));
  let timedOut = false;
  let aborted = false;
  // The deadline (timeout or abort): kill the group, then whatever escaped it; from then on the
  // command gets DEADLINE_GRACE_MS to exit and close its pipes, and nothing waits longer.
  let deadline!: () => void;
  const passed = new Promise<void>((r) => (deadline = r));
  let hit = false;
  const killAll = () => {
    if (hit) return;
    hit = true;
    killGroup(pid);
    void track.kill().then((n) => {
      if (n > 0) for (const fn of killListeners) fn();
    });
    deadline();
  };
  const timer =
    spec.timeoutMs !== undefined
      ? clock.setTimeout(() => {
          timedOut = true;
          killAll();
        }, spec.timeoutMs)
      : null;
  const onAbort = () => {
    aborted = true;
    killAll();
  };
  spec.signal?.addEventListener("abort", onAbort, { once: true });
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  const graceOver = passed.then(() => new Promise<"late">((r) => (graceTimer = setTimeout(() => r("late"), DEADLINE_GRACE_MS))));

  if (spec.stdin !== undefined) void feedStdin(proc.stdin as import("bun").FileSink, spec.stdin);

  const readers = [
    readStream(proc.stdout as ReadableStream<Uint8Array>, out, "stdout", spec.onOutput),
    readStream(proc.stderr as ReadableStream<Uint8Array>, err, "stderr", spec.onOutput),
  ];
  const drained = Promise.all(readers.map((r) => r.done));
  const cancel = () => {
    for (const r of readers) r.cancel();
  };
  const exited = await Promise.race([proc.exited, graceOver]);
  if (hit) killGroup(pid);
  else if (spec.killGroupOnExit !== false) {
    // Not at the instant of the exit: a child on its way out of the group (`setsid daemon >/dev/null 2>&1 &`
    // as the last line: forked, not yet in its own session) died with it, 3 times out of 3. What is still
    // in the group EXIT_SETTLE_MS later is killed; the answer waits for that only while the pipes are held.
    const settle = new Promise<void>((r) => setTimeout(r, EXIT_SETTLE_MS)).then(() => killGroup(pid));
    await Promise.race([drained, settle, passed]);
  }
  if (exited === "late") {
    // Not even SIGKILL ended it in time (uninterruptible sleep): answer now; Bun reaps it later.
    cancel();
  } else if (spec.killGroupOnExit === false && !hit) {
    // A command meant to start daemons: stop reading shortly after it exits (a daemon may keep the pipes).
    const t = setTimeout(cancel, 200);
    await Promise.race([drained, graceOver]);
    clearTimeout(t);
  } else if ((await Promise.race([drained, graceOver])) === "late") {
    // Something still holds the pipes after the deadline's kill (a marker cleared with env -i): stop reading.
    cancel();
  }
  // Without a deadline, the pipes are waited on until every holder has let go (as ssh does).
  if (timer) clock.clearTimeout(timer);
  clearTimeout(graceTimer);
  spec.signal?.removeEventListener("abort", onAbort);
  track.end();
  const sig = exited !== "late" && proc.signalCode ? String(proc.signalCode) : null;
  return finish({
    exit_code: exited === "late" || sig ? null : exited,
    signal: sig,
    timed_out: timedOut,
    aborted: aborted && !timedOut,
  });
}

/** Why posix_spawn would refuse `program` (Bun's wording), or null when it looks runnable. */
function cannotSpawn(program: string, cwd: string | undefined, path: string | undefined): string | null {
  if (!program.includes("/")) return Bun.which(program, { PATH: path ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", cwd }) ? null : `Executable not found in $PATH: ${JSON.stringify(program)}`;
  const full = resolve(cwd ?? process.cwd(), program);
  try {
    if (!statSync(full).isFile()) return `EACCES: permission denied, posix_spawn '${program}'`;
    accessSync(full, fsConstants.X_OK);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return `ENOENT: no such file or directory, posix_spawn '${program}'`;
    return `${code ?? "EACCES"}: permission denied, posix_spawn '${program}'`;
  }
}

/**
 * After a normal exit, what is left in the command's process group is killed this much later, not at once,
 * so that a daemon being detached (`setsid daemon >/dev/null 2>&1 &` as the command's last line) gets out of
 * the group first. The answer waits for it only while something still holds the command's pipes.
 */
export const EXIT_SETTLE_MS = 100;

/** After a deadline kill: the command gets this long to exit and close its pipes before the runner stops waiting. */
export const DEADLINE_GRACE_MS = 500;

/** Pids the runner spawned and Bun still waits on: a reaper must never take these. */
const runnerChildren = new Set<number>();
/** Whether `pid` is a child the runner spawned and still waits on. */
export function isRunnerChild(pid: number): boolean {
  return runnerChildren.has(pid);
}

const killListeners = new Set<() => void>();
/** Be told when a deadline killed processes that had escaped a command's process group (a reaper's cue). */
export function onEscapesKilled(fn: () => void): () => void {
  killListeners.add(fn);
  return () => void killListeners.delete(fn);
}

/**
 * Write stdin and close it. A command may exit without reading it (EPIPE): every write and the
 * close are awaited here, so no rejection is left unhandled. (A Blob stdin avoids that too, but
 * Bun holds each one's memfd until a GC: fds grew under load.)
 */
async function feedStdin(sink: import("bun").FileSink, data: string | Uint8Array): Promise<void> {
  try {
    await sink.write(data);
    await sink.end();
  } catch {
    // The command closed its stdin early; that is its business.
  }
}

const defaultClock = systemClock();
