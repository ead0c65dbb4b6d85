// `--watch` for table commands (ls, health, probes): ask again every --interval; redraw in place on a terminal,
// one line per change elsewhere; Ctrl-C stops with exit 0 and leaves nothing running.

import { FlagError } from "../../agent/argv.ts";
import { EXIT, failure, type Ctx } from "./command.ts";
import { cut, paint } from "./io.ts";
import { jsonText, type OutputMode } from "./output.ts";
import { clockOf, sleepOn, unlessAborted } from "./pace.ts";
import { renderOptions, renderView, type TableView } from "./view.ts";
import { table } from "./format.ts";

export const DEFAULT_INTERVAL_SECS = 2;

/** The flags of a command that can be watched. */
export const WATCH_FLAGS = {
  watch: { type: "boolean", short: "w", description: "Keep asking and show what changes (redrawn on a terminal, one line per change elsewhere); Ctrl-C stops." },
  interval: { type: "number", arg: "SECS", description: `Seconds between asks with --watch (default ${DEFAULT_INTERVAL_SECS}; 0.1 to 3600).` },
} as const;

/** --interval's seconds, checked; refused without --watch. */
function intervalMs(cmd: string, values: { watch?: boolean | undefined; interval?: number | undefined }): number {
  const s = values.interval;
  if (s === undefined) return DEFAULT_INTERVAL_SECS * 1000;
  if (!values.watch) throw new FlagError(`${cmd}: --interval needs --watch`);
  if (!(s >= 0.1 && s <= 3600)) throw new FlagError(`${cmd}: --interval expects seconds from 0.1 to 3600, got ${s}`);
  return s * 1000;
}

/** Refuse `--interval` without `--watch` (commands call it on their plain path). */
export function checkWatchFlags(cmd: string, values: { watch?: boolean | undefined; interval?: number | undefined }): void {
  intervalMs(cmd, values);
}

/** `HH:MM:SS` of a wall time, for the live header. */
function clockText(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/**
 * Watch a view: `fetch` is called now and then every interval (never two at once). Where the output
 * is live, the whole view is redrawn in place under a header line (cut to the terminal's width and
 * height, so the redraw always lands where the last one began). Elsewhere: the first view whole,
 * then the row of each thing that changed (its `key`), `ID  (gone)` for a row that left; with
 * `-o json` one compact document a line when anything changed; with `-o name` each new name. A
 * failed fetch is shown (in place, or once on stderr while it keeps failing) and the watch goes on.
 * Resolves EXIT.OK when `io.signal` aborts (Ctrl-C): no timer is left and the call in flight is
 * dropped (the command's clients close as it returns).
 */
export async function watchView(ctx: Ctx, cmd: string, fetch: () => Promise<TableView>, mode: OutputMode, values: { watch?: boolean | undefined; interval?: number | undefined; "no-headers"?: boolean | undefined }): Promise<number> {
  const io = ctx.io;
  const every = intervalMs(cmd, values);
  const clock = clockOf(io);
  const opts = renderOptions(io, mode, values["no-headers"]);
  let drawn = 0;
  let seen: Map<string, string> | null = null;
  let lastError = "";

  const redraw = (body: string) => {
    const head = `${paint(io.color, "bold", `Every ${every / 1000} s: mvmctl ${cmd}`)}  (Ctrl-C to stop)  ${clockText(io.now())}`;
    let lines = `${head}\n\n${body}`.replace(/\n$/, "").split("\n");
    const rows = io.rows !== undefined && io.rows > 2 ? io.rows - 1 : undefined;
    if (rows !== undefined && lines.length > rows) lines = [...lines.slice(0, rows - 1), `… ${lines.length - rows + 1} more lines (a taller terminal shows them)`];
    const width = io.width === undefined ? undefined : io.width - 1;
    const text = lines.map((l) => `${cut(l, width)}\n`).join("");
    io.out(`${drawn > 0 ? `\x1b[${drawn}A\r` : ""}\x1b[J${text}`);
    drawn = lines.length;
  };

  const changes = (v: TableView) => {
    const before = seen;
    const now = new Map(v.rows.map((r) => [r.id, r.key]));
    const first = before === null;
    const changed = v.rows.filter((r) => before === null || before.get(r.id) !== r.key);
    const added = v.rows.filter((r) => before !== null && !before.has(r.id));
    const gone = before === null ? [] : [...before.keys()].filter((id) => !now.has(id));
    seen = now;
    if (mode === "json") {
      if (first || changed.length || gone.length) io.out(jsonText(v.doc, 0));
    } else if (first) io.out(renderView(v, opts));
    else if (mode === "name") {
      for (const r of added) io.out(`${r.id}\n`);
    } else if (changed.length || gone.length) {
      // Aligned as the whole table would be now; only the rows that changed are printed.
      const wide = mode === "wide";
      const all = table(wide ? [...v.header, ...(v.wideHeader ?? [])] : v.header, v.rows.map((r) => (wide ? [...r.cells, ...(r.wide ?? [])] : r.cells)), { ...opts, headers: false }).split("\n");
      const ids = new Set(changed.map((r) => r.id));
      v.rows.forEach((r, i) => {
        if (ids.has(r.id)) io.out(`${all[i]}\n`);
      });
      for (const id of gone) io.out(`${id}  (gone)\n`);
    }
  };

  for (;;) {
    const r = await unlessAborted(
      fetch().then(
        (v) => ({ ok: true as const, v }),
        (e: unknown) => ({ ok: false as const, e }),
      ),
      io.signal,
    );
    if (r.aborted) break;
    const got = r.value;
    if (got.ok) {
      lastError = "";
      if (io.live) redraw(renderView(got.v, opts));
      else changes(got.v);
    } else {
      const message = failure(got.e).message;
      if (io.live) redraw(`${paint(io.color, "red", `mvmctl: ${message}`)}\n`);
      else if (message !== lastError) io.err(`mvmctl: ${message}\n`);
      lastError = message;
    }
    if (!(await sleepOn(clock, every, io.signal))) break;
  }
  return EXIT.OK;
}
