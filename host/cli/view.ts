// One command's answer as a view: a table (with its wide columns), names, a JSON document; rendered in the chosen format.

import { table } from "./format.ts";
import type { CliIO } from "./io.ts";
import { jsonText, type OutputMode } from "./output.ts";

/** One row: its cells (the wide ones after), and what counts as a change of it for `--watch`. */
export interface ViewRow {
  /** The row's identity (a VM's or an integration's name). */
  id: string;
  cells: string[];
  /** Cells shown by `-o wide` only, after `cells`. */
  wide?: string[];
  /** The fields whose change `--watch` reports (not ages or uptimes, which change every time). */
  key: string;
}

/** What a table command shows, in every format. */
export interface TableView {
  header: string[];
  /** Headers of the wide cells. */
  wideHeader?: string[];
  rows: ViewRow[];
  /** Lines after the table (a count, a verdict); left out with --no-headers and -o name. */
  footer?: string;
  /** What the table says when there are no rows (`no probes`). */
  empty?: string;
  /** `-o json`: the document, exactly as the command's --json prints it. */
  doc: unknown;
}

export interface RenderOptions {
  mode: OutputMode;
  headers: boolean;
  /** Cut to this width (undefined: whole lines; -o wide is never cut). */
  width: number | undefined;
  color: boolean;
}

/** The options a command's flags and io give. */
export function renderOptions(io: CliIO, mode: OutputMode, noHeaders: boolean | undefined): RenderOptions {
  return { mode, headers: noHeaders !== true, width: mode === "wide" ? undefined : io.width, color: io.color };
}

/**
 * The view as text: `-o json` the document (indented, one newline at the end), `-o name` the ids one
 * a line, the table otherwise (`-o wide` with its wide columns), then the footer.
 * @example io.out(renderView(view, renderOptions(io, mode, values["no-headers"])));
 */
export function renderView(v: TableView, o: RenderOptions): string {
  if (o.mode === "json") return jsonText(v.doc);
  if (o.mode === "name") return v.rows.map((r) => `${r.id}\n`).join("");
  const wide = o.mode === "wide";
  let text = "";
  if (v.rows.length === 0) text = v.empty !== undefined && o.headers ? `${v.empty}\n` : "";
  else {
    const header = wide ? [...v.header, ...(v.wideHeader ?? [])] : v.header;
    const rows = v.rows.map((r) => (wide ? [...r.cells, ...(r.wide ?? [])] : r.cells));
    text = table(header, rows, { color: o.color, width: o.width, headers: o.headers });
  }
  if (v.footer !== undefined && o.headers) text += v.footer.endsWith("\n") ? v.footer : `${v.footer}\n`;
  return text;
}
