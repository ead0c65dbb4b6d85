// Keys and numbers every config file shares: the strict-key rule (x- keys aside, the nearest known key named),
// one type for intervals and timeouts, strict JSON Schemas, and zod issues as one line.

import type { z } from "zod";
import { zod } from "./lazy-zod.ts";
import { nearest } from "./argv.ts";

/** `field health_interval_secs: Too small: expected number to be >=1; field name: Required` */
export function zodIssuesText(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `field ${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ");
}

/** Longest interval or timeout any config file may ask for (one day); timers beyond ~24.8 days overflow. */
export const MAX_FILE_SECS = 86_400;

/**
 * An interval or timeout of a config file: whole seconds from `min` to one day, with a default. Every
 * format names these `*_secs` and uses this one type, so that the same number means the same thing.
 * @example z.object({ interval_secs: fileSecs(60) })
 */
export function fileSecs(def: number, min = 1) {
  return zod().number().int("must be whole seconds").min(min).max(MAX_FILE_SECS).default(def);
}

/** Keys every config file leaves to its users (the compose-spec's extension fields): never an error. */
export const EXTENSION_KEY = /^x-/;

/** How many unknown keys one message names (a file of 10 000 typos is one short line). */
const MAX_NAMED_KEYS = 5;

/**
 * Why the keys of `value` that `known` does not hold are errors, one text per key (`x-` keys are
 * allowed): `field helth_cmd: unknown key (did you mean health_cmd?)`. `hints` names the key that other
 * tools' spelling stands for (Docker's `interval`); `prefix` is the section's path (`worker.`).
 * @example unknownKeyProblems(["health_cmd", "name"], { name: "x", helth_cmd: "true" }) // ["field helth_cmd: unknown key (did you mean health_cmd?)"]
 */
export function unknownKeyProblems(known: readonly string[], value: Record<string, unknown>, opts: { prefix?: string; hints?: Readonly<Record<string, string>> } = {}): string[] {
  const prefix = opts.prefix ?? "";
  const have = new Set(known);
  const extra = Object.keys(value).filter((k) => !have.has(k) && !EXTENSION_KEY.test(k));
  const out = extra.slice(0, MAX_NAMED_KEYS).map((k) => {
    const near = nearest(k, known, 2);
    const hint = near.length ? near.map((n) => prefix + n).join(" or ") : opts.hints && Object.hasOwn(opts.hints, k) ? prefix + opts.hints[k] : undefined;
    const shown = k.length > 80 ? `${k.slice(0, 80)}…` : k;
    return `field ${prefix}${shown}: unknown key${hint ? ` (did you mean ${hint}?)` : ""}`;
  });
  if (extra.length > MAX_NAMED_KEYS) out.push(`${extra.length - MAX_NAMED_KEYS} more unknown key(s)`);
  if (out.length) out[out.length - 1] += " (keys starting with x- are left to users)";
  return out;
}

/** A copy of `value` without its `x-` keys (what a schema validates). */
export function withoutExtensions(value: Record<string, unknown>): Record<string, unknown> {
  if (!Object.keys(value).some((k) => EXTENSION_KEY.test(k))) return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => !EXTENSION_KEY.test(k)));
}

/**
 * A JSON Schema (from `z.toJSONSchema`) made strict the way the loaders are: no property it does not
 * name (`additionalProperties: false`) except `x-` ones (`patternProperties`), nested objects too.
 * @example strictJsonSchema(z.toJSONSchema(IntegrationFile, { io: "input" }))
 */
export function strictJsonSchema<T>(schema: T): T {
  const visit = (s: unknown): void => {
    if (!s || typeof s !== "object") return;
    const o = s as Record<string, unknown>;
    if (o.type === "object" && o.properties && typeof o.properties === "object") {
      o.additionalProperties = false;
      o.patternProperties = { "^x-": {} };
      for (const p of Object.values(o.properties as Record<string, unknown>)) visit(p);
    }
  };
  visit(schema);
  return schema;
}

/**
 * The log fields of a skipped file's line: the file and, when the reason names one, the first field
 * (`field health_cmd: ...` -> `{ file, field: "health_cmd" }`), so JSON logs carry them as keys.
 */
export function skipFields(file: string, message: string): { file: string; field?: string } {
  const field = /^field ([^:\s]{1,200}):/.exec(message)?.[1];
  return field ? { file, field } : { file };
}
