// The one renderer of steps as they happen (sleep-prep, wake, snapshot, restore): plain lines, or a live line on a terminal.

import { systemClock, type TimerHandle } from "../../agent/clock.ts";
import { printable } from "../client/printable.ts";
import { formatDuration, statusWord } from "./format.ts";
import { cut, paint, type CliIO } from "./io.ts";

/** One step as the renderer takes it: the agent's step events and the snapshot loop's both map to it. */
export interface ProgressStep {
  name: string;
  status: "running" | "ok" | "failed";
  /** The step's time once it ended (ignored while running). */
  ms: number;
  /** What was done, or why it failed (outside text: escaped here). */
  detail: string;
}

export interface StepRenderer {
  /** A step started or ended. */
  step(e: ProgressStep): void;
  /** Names of the steps that ended so far (a caller prints the answer's other steps itself). */
  readonly ended: ReadonlySet<string>;
  /** Stop the ticker and erase the live line; call it in `finally` (a failure mid-step included). */
  close(): void;
}

/** How often the live line's elapsed time is redrawn. */
const TICK_MS = 200;

/**
 * Render steps as they happen. Each ended step is one line: `  ok    NAME   TIME  DETAIL` (`FAIL` in
 * red when it failed). Where the output is live (a terminal, not TERM=dumb), the steps running now
 * are shown on a last line with their elapsed time, redrawn every 200 ms and rewritten by the next
 * ended step; elsewhere (a pipe, a file, TERM=dumb) only the ended lines are printed. Steps may run
 * at once (checkpoints): the live line names each of them.
 * @example const r = stepRenderer(ctx.io, 12); try { r.step({ name: "sync", status: "running", ms: 0, detail: "" }); ... } finally { r.close(); }
 */
export function stepRenderer(io: CliIO, nameWidth: number): StepRenderer {
  const clock = io.clock ?? systemClock();
  const running = new Map<string, number>();
  const ended = new Set<string>();
  let shown = false;
  let ticker: TimerHandle | null = null;

  const erase = () => {
    if (shown) io.out("\r\x1b[2K");
    shown = false;
  };
  const draw = () => {
    erase();
    if (running.size === 0) return;
    const since = Math.min(...running.values());
    const names = [...running.keys()].map((n) => printable(n, 80)).join(", ");
    const elapsed = formatDuration(clock.monotonic() - since);
    // Never wider than the terminal: a wrapped line could not be rewritten in place.
    io.out(cut(`  ${paint(io.color, "gray", "..  ")}  ${names.padEnd(nameWidth)}  ${elapsed.padStart(8)}`, io.width === undefined ? undefined : io.width - 1));
    shown = true;
  };
  const tick = () => {
    ticker = null;
    if (running.size === 0) return;
    draw();
    ticker = clock.setTimeout(tick, TICK_MS);
  };
  const stopTicker = () => {
    if (ticker) clock.clearTimeout(ticker);
    ticker = null;
  };

  return {
    ended,
    step(e) {
      if (e.status === "running") {
        if (!io.live) return;
        running.set(e.name, clock.monotonic());
        draw();
        ticker ??= clock.setTimeout(tick, TICK_MS);
        return;
      }
      running.delete(e.name);
      ended.add(e.name);
      const mark = e.status === "ok" ? `${statusWord("ok", io.color)}  ` : paint(io.color, "red", "FAIL");
      const line = `  ${mark}  ${printable(e.name, 200).padEnd(nameWidth)}  ${formatDuration(e.ms).padStart(8)}  ${printable(e.detail, 400)}`.trimEnd();
      if (io.live) {
        erase();
        io.out(`${cut(line, io.width)}\n`);
        draw();
        if (running.size === 0) stopTicker();
      } else io.out(`${line}\n`);
    },
    close() {
      stopTicker();
      running.clear();
      erase();
    },
  };
}
