// Output formats: `-o json|wide|name` (with `--json` kept as an alias of `-o json`) and `--no-headers`, as flags and their reading.

import { FlagError, unknownCommand, type ArgSpecs } from "../../agent/argv.ts";

/** `table` is the default human output; the rest are asked for with `-o`. */
export type OutputMode = "table" | "json" | "wide" | "name";

/** The formats a table command offers with -o (ls, health, probes). */
export const TABLE_FORMATS = ["json", "wide", "name"] as const;
/** The format a document command offers with -o. */
export const JSON_FORMATS = ["json"] as const;

const jsonAlias = { json: { type: "boolean", description: "Print JSON (the same as -o json)." } } as const;

/**
 * The flags of a command whose output is a document or a few lines: `-o json` and `--json`.
 * @example flags: { ...JSON_OUTPUT, check: { ... } }
 */
export const JSON_OUTPUT = {
  output: { type: "string", short: "o", arg: "FORMAT", description: "Output format: json (one JSON document)." },
  ...jsonAlias,
} as const satisfies ArgSpecs;

/** The flags of a command that prints a table: `-o json|wide|name`, `--json`, `--no-headers`. */
export const TABLE_OUTPUT = {
  output: {
    type: "string",
    short: "o",
    arg: "FORMAT",
    description: "Output format: json (one JSON document), wide (more columns, lines not cut to the terminal), name (names only, one a line).",
  },
  ...jsonAlias,
  "no-headers": { type: "boolean", description: "Leave out the header row (and the closing summary line) of a table." },
} as const satisfies ArgSpecs;

/**
 * The output mode from `-o` and `--json`: a mistyped format is a FlagError with the nearest one; `--json`
 * with another `-o` is refused. `allowed` are the formats this command offers besides its table.
 * @example const mode = outputMode("ls", values, ["json", "wide", "name"]); // "wide" for `ls -o wide`
 */
export function outputMode(cmd: string, values: { output?: string | undefined; json?: boolean | undefined }, allowed: readonly Exclude<OutputMode, "table">[]): OutputMode {
  const o = values.output;
  if (o !== undefined && !(allowed as readonly string[]).includes(o)) throw new FlagError(`${cmd}: -o: ${unknownCommand(o, allowed, "output format").message}`);
  if (values.json && o !== undefined && o !== "json") throw new FlagError(`${cmd}: --json and -o ${o} ask for two formats: give one`);
  return values.json ? "json" : ((o as OutputMode | undefined) ?? "table");
}

/** Characters JSON.stringify leaves raw that a terminal may act on (DEL, C1 such as CSI) or that break lines in some readers. */
const JSON_RAW = /[\u007f-\u009f\u2028\u2029]/g;

/**
 * A JSON document as mvmctl prints it: indented by `indent` (0: one line), then a newline. DEL, C1
 * controls and U+2028/2029 are written as `\u` escapes (the same JSON value), so that an agent's text
 * cannot act on a terminal even in JSON; C0 controls JSON escapes itself.
 * @example io.out(jsonText(answer)); // "{\n  \"ready\": true\n}\n"
 */
export function jsonText(value: unknown, indent = 2): string {
  const text = JSON.stringify(value, null, indent) ?? "null";
  return `${text.replace(JSON_RAW, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}\n`;
}
