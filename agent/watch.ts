// `--watch`: a supervisor that runs the agent as a child process and restarts it when a --plugin file (or a source beside it) changes.
// Besides main.ts the one file that touches process: it spawns the child and takes the signals.
//
// A child process, not an in-process restart: a fresh process gets a fresh module graph (the runtime
// cannot forget a module it imported), and whatever the old agent held (sockets, timers, its commands'
// process groups) goes with it. The child's stdin is a pipe from the supervisor: when the supervisor dies,
// even by SIGKILL, the pipe closes and the child stops gracefully (agent/main.ts), so nothing is left.

import { watch, type FSWatcher } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { systemClock, type Clock, type TimerHandle } from "./clock.ts";
import { createLogger, type Logger } from "./log.ts";
import { isCompiledBinary } from "./plugin-file.ts";

/** Set in the child's environment: it stops when its stdin closes (the supervisor is gone). */
export const WATCH_CHILD_ENV = "MVM_WATCH_PARENT";

/** Files whose change restarts the agent: sources a plugin may import. */
const SOURCE = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;

/**
 * Whether a changed file (relative to a watched directory) restarts the agent: a source file, not
 * under node_modules and not in a hidden directory (.git, .cache).
 * @example isWatchedChange("lib/util.ts") // true; isWatchedChange("node_modules/x/index.js") // false
 */
export function isWatchedChange(rel: string): boolean {
  const parts = rel.split(/[\\/]/);
  if (parts.some((p) => p === "node_modules" || (p.startsWith(".") && p !== "." && p !== ".."))) return false;
  return SOURCE.test(rel);
}

/** A child process as the supervisor needs it (Bun.spawn's subprocess fits). */
export interface WatchChild {
  readonly pid: number;
  readonly exited: Promise<number>;
  kill(signal?: NodeJS.Signals | number): void;
}

export interface WatchOptions {
  /** The --plugin files (their directories are watched, recursively). */
  files: string[];
  /** Start one agent child: the same command line without --watch, stdin a pipe from this process. */
  spawn(): WatchChild;
  log: Logger;
  /** Changes within this window restart once (default 150 ms). */
  debounceMs?: number;
  /** SIGKILL a child that has not exited this long after SIGTERM (default 10 s). */
  stopTimeoutMs?: number;
  clock?: Clock;
  /** Directory watcher (tests may pass their own); default node:fs watch, recursive. */
  watchDir?(dir: string, onChange: (file: string) => void, onError: (e: Error) => void): { close(): void };
}

export interface Watching {
  /** The running child's pid, if one runs. */
  readonly childPid: number | undefined;
  /** Restarts so far. */
  readonly restarts: number;
  /** Forward a signal to the child (SIGHUP: reload). */
  signal(sig: NodeJS.Signals): void;
  /** Stop watching, stop the child (SIGTERM, SIGKILL after stopTimeoutMs); resolves with its exit code (0 if none ran). */
  stop(): Promise<number>;
}

function defaultWatchDir(dir: string, onChange: (file: string) => void, onError: (e: Error) => void): { close(): void } {
  const w: FSWatcher = watch(dir, { recursive: true }, (_event, name) => {
    if (typeof name === "string") onChange(name);
  });
  w.on("error", onError); // the directory removed under us, or out of inotify watches
  return { close: () => w.close() };
}

/**
 * Run the agent as a child and restart it when a watched file changes: stop the old child (and wait
 * for it to exit, so its sockets are gone), then start a new one. A child that exits by itself (a
 * plugin that throws at start) is not restarted until the next change.
 * @example
 * const w = superviseWatch({ files: ["/src/acme/index.ts"], spawn: () => Bun.spawn([...], { stdin: "pipe" }), log });
 * process.on("SIGTERM", () => w.stop().then((code) => process.exit(code)));
 */
export function superviseWatch(o: WatchOptions): Watching {
  const clock = o.clock ?? systemClock();
  const debounceMs = o.debounceMs ?? 150;
  const stopTimeoutMs = o.stopTimeoutMs ?? 10_000;
  const dirs = [...new Set(o.files.map((f) => dirname(resolve(f))))];
  let child: WatchChild | undefined;
  let lastCode = 0;
  let restarts = 0;
  let stopped = false;
  let timer: TimerHandle | undefined;
  let changed: string | undefined;
  /** The restart (or stop) in progress: one at a time. */
  let busy: Promise<void> = Promise.resolve();

  const start = () => {
    if (stopped) return;
    let c: WatchChild;
    try {
      c = o.spawn();
    } catch (e) {
      o.log.error(`cannot start the agent: ${(e as Error).message}`);
      return;
    }
    child = c;
    void c.exited.then((code) => {
      lastCode = code;
      if (child !== c) return; // stopped on purpose
      child = undefined;
      if (!stopped) o.log.warn(`the agent exited (code ${code}); waiting for a change to ${o.files.map((f) => relative(process.cwd(), f) || f).join(", ")}`);
    });
  };

  const stopChild = async () => {
    const c = child;
    if (!c) return;
    child = undefined;
    c.kill("SIGTERM");
    const kill = clock.setTimeout(() => c.kill("SIGKILL"), stopTimeoutMs);
    lastCode = await c.exited;
    clock.clearTimeout(kill);
  };

  const restart = () => {
    timer = undefined;
    const what = changed;
    changed = undefined;
    busy = busy.then(async () => {
      if (stopped) return;
      o.log.info(`${what ?? "a file"} changed: restarting the agent`);
      await stopChild();
      restarts++;
      start();
    });
  };

  const cannot = (dir: string, e: Error) => o.log.warn(`cannot watch ${dir} (${e.message}): changes there do not restart the agent; restart it by hand`);
  const watchers = dirs.flatMap((dir) => {
    try {
      return [
        (o.watchDir ?? defaultWatchDir)(
          dir,
          (name) => {
            if (stopped || !isWatchedChange(name)) return;
            changed = relative(process.cwd(), join(dir, name)) || name;
            if (timer) clock.clearTimeout(timer);
            timer = clock.setTimeout(restart, debounceMs);
          },
          (e) => cannot(dir, e),
        ),
      ];
    } catch (e) {
      cannot(dir, e as Error); // out of inotify watches (a --plugin file in a huge tree), or not readable
      return [];
    }
  });
  o.log.info(`restarting the agent when a source file under ${dirs.map((d) => (relative(process.cwd(), d) || ".") + sep).join(", ")} changes`);
  start();

  return {
    get childPid() {
      return child?.pid;
    },
    get restarts() {
      return restarts;
    },
    signal(sig) {
      child?.kill(sig);
    },
    async stop() {
      if (!stopped) {
        stopped = true;
        if (timer) clock.clearTimeout(timer);
        timer = undefined;
        for (const w of watchers) w.close();
      }
      await busy;
      const running = child !== undefined;
      await stopChild();
      return running ? lastCode : 0;
    },
  };
}

/**
 * `--watch`: this process supervises; the agent runs as a child with the same command line minus
 * `--watch` (the same bun and bun flags from source; the binary itself when compiled). Resolves with
 * the exit code once a signal stopped both.
 */
export async function runWatch(files: string[], childArgv: string[]): Promise<number> {
  const log = createLogger({}, "watch");
  const self = isCompiledBinary() ? [process.execPath] : [process.execPath, ...process.execArgv, Bun.main];
  const w = superviseWatch({
    files,
    log,
    spawn: () =>
      Bun.spawn([...self, ...childArgv], {
        stdin: "pipe",
        stdout: "inherit",
        stderr: "inherit",
        env: { ...process.env, [WATCH_CHILD_ENV]: String(process.pid) },
      }),
  });
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onStop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`${sig}: stopping the agent and the watch`);
      process.off("SIGHUP", onHup);
      void w.stop().then(resolve);
    };
    const onHup = () => w.signal("SIGHUP");
    process.on("SIGTERM", () => onStop("SIGTERM"));
    process.on("SIGINT", () => onStop("SIGINT"));
    process.on("SIGHUP", onHup);
  });
}
