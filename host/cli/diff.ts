// `mvmctl diff VM`: the files changed in the guest's overlay since boot, every page of fs-diff.

import type { ParamsOf, ResultOf } from "../../agent/plugin.ts";
import { printable } from "../client/printable.ts";
import { CliFailure, defineCommand, EXIT, UsageError } from "./command.ts";
import { formatBytes, safeText } from "./format.ts";
import { paint } from "./io.ts";
import { JSON_OUTPUT, jsonText, outputMode } from "./output.ts";

/** diff -o: one JSON array, or the paths. */
const DIFF_FORMATS = ["json", "name"] as const;

type Change = ResultOf<"fs-diff">["changes"][number];

const MARK = { created: "+", modified: "~", deleted: "-" } as const;

/** One human line: `+ /path (size)`, `~ /path`, `- /path`; directories end with `/`. */
function diffLine(ch: Change, color: boolean): string {
  const path = ch.type === "dir" && !ch.path.endsWith("/") ? `${ch.path}/` : ch.path;
  const mark = MARK[ch.kind];
  const colour = ch.kind === "created" ? "green" : ch.kind === "modified" ? "yellow" : "red";
  const size = ch.kind === "created" && ch.type !== "dir" ? ` (${formatBytes(ch.size)})` : "";
  return `${paint(color, colour, mark)} ${printable(path, 4096)}${size}`;
}

export const diffCommand = defineCommand({
  name: "diff",
  summary: "List the files created, modified and deleted in a VM since boot (its overlay upper dir).",
  usage: "diff VM [-o json|name] [--include GLOB]... [--exclude GLOB]... [--page-size N]",
  details: `
Human output: one line per change, \`+ /path (size)\` created, \`~ /path\` modified, \`- /path\` deleted
(directories end with /), then a summary line. Large diffs are fetched page by page (next_cursor)
and printed as they come. Paths the agent could not read are listed on stderr.
-o json (or --json) prints one JSON array of { path, kind, size }, once every page has come (nothing
when a page fails). -o name prints the paths only, one a line.
Globs are picomatch patterns on absolute paths; exclude beats include. Example:
  mvmctl diff vm1 --include '/etc/**' --exclude '**/*.swp'`,
  flags: {
    output: { ...JSON_OUTPUT.output, description: "Output format: json (one JSON array), name (the paths only, one a line)." },
    json: JSON_OUTPUT.json,
    include: { type: "list", arg: "GLOB", description: "Only paths matching this glob." },
    exclude: { type: "list", arg: "GLOB", description: "Leave out paths matching this glob." },
    "page-size": { type: "number", description: "Entries asked for per page (the agent may return fewer)." },
  },
  args: { min: 1, max: 1 },
  complete: { args: ["vm"], values: { output: DIFF_FORMATS } },
  async run(ctx, { values, args }) {
    const vm = ctx.vm(args[0]!);
    const mode = outputMode("diff", values, DIFF_FORMATS);
    const c = ctx.io.color;
    const params: ParamsOf<"fs-diff"> = {};
    if (values.include.length) params.include = values.include;
    if (values.exclude.length) params.exclude = values.exclude;
    if (values["page-size"] !== undefined) {
      const n = values["page-size"];
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`diff: --page-size expects a whole number from 1, got ${n}`);
      params.limit = n;
    }
    const totals = { created: 0, modified: 0, deleted: 0, bytes: 0 };
    let count = 0;
    let cursor: string | null = null;
    let lowerKnown = true;
    let upper = "";
    const seenErrors = new Set<string>();
    // JSON is kept until the last page came: one whole document, or nothing when a page fails.
    const json: string[] = [];
    do {
      const page: ResultOf<"fs-diff"> = await ctx.call(vm, "fs-diff", cursor ? { ...params, cursor } : params);
      upper = page.upper_dir;
      lowerKnown &&= page.lower_known;
      for (const e of page.errors) {
        const line = printable(`${e.path}: ${e.message}`);
        if (!seenErrors.has(line)) ctx.io.err(`${vm.name}: could not read ${line}\n`);
        seenErrors.add(line);
      }
      let text = "";
      for (const ch of page.changes) {
        totals[ch.kind]++;
        if (ch.kind !== "deleted") totals.bytes += ch.size;
        if (mode === "json") json.push(jsonText({ path: ch.path, kind: ch.kind, size: ch.size }, 0).trimEnd());
        else text += mode === "name" ? `${printable(ch.path, 4096)}\n` : `${diffLine(ch, c)}\n`;
        count++;
      }
      if (text) ctx.io.out(text);
      cursor = page.next_cursor;
    } while (cursor && !ctx.io.signal.aborted);
    if (cursor) throw new CliFailure(130, `${vm.name}: interrupted after ${count} change${count === 1 ? "" : "s"}; the list is not complete`);
    if (mode === "json") {
      ctx.io.out(json.length ? `[\n  ${json.join(",\n  ")}\n]\n` : "[]\n");
      return EXIT.OK;
    }
    if (mode === "name") return EXIT.OK;
    const summary = `${totals.created} created, ${totals.modified} modified, ${totals.deleted} deleted, ${formatBytes(totals.bytes)} in created and modified files`;
    ctx.io.out(count ? `${summary}\n` : `no changes (${safeText(upper)})\n`);
    if (!lowerKnown) ctx.io.err(`${vm.name}: the agent found no lower layer, so created and modified cannot be told apart\n`);
    return EXIT.OK;
  },
});
