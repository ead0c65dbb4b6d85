// Schema checkers: a TypeBox schema's Check and Errors. A compiled agent binary carries check functions
// generated at build time (scripts/checkers.ts, TypeCompiler.Code) and no schema compiler; from source (and in
// tests) a schema is compiled with TypeBox's TypeCompiler on first use. Measured: see BENCHMARKS.md (bench:footprint).

import type { Static, TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { Errors, type ValueErrorIterator } from "@sinclair/typebox/errors";
import { FormatRegistry } from "@sinclair/typebox";
import { Hash } from "@sinclair/typebox/value";

/** What the router and plugins use of a compiled schema (TypeBox's TypeCheck has both). */
export interface Checker<T extends TSchema = TSchema> {
  Check(value: unknown): value is Static<T>;
  Errors(value: unknown): ValueErrorIterator;
}

/** The helpers TypeCompiler.Code's output takes: custom kinds, string formats, and hashing (uniqueItems). */
export type CheckFactory = (
  kind: (kind: string, instance: number, value: unknown) => boolean,
  format: (format: string, value: unknown) => boolean,
  hash: (value: unknown) => bigint,
) => (value: unknown) => boolean;

/** Check functions generated at build time, by schemaKey. */
const ahead = new Map<string, CheckFactory>();
const checkers = new WeakMap<TSchema, Checker>();

/** The key of a schema among the generated checkers: its JSON (TypeBox's symbol keys drop out). */
export function schemaKey(schema: TSchema): string {
  return JSON.stringify(schema);
}

/**
 * Register check functions generated at build time (the compiled entry does, before any schema is checked).
 * @example registerCheckers({ [schemaKey(Envelope)]: (kind, format, hash) => function check(value) { ... } })
 */
export function registerCheckers(factories: Record<string, CheckFactory>): void {
  for (const [k, f] of Object.entries(factories)) ahead.set(k, f);
}

/** How many generated checkers are registered (tests, bench). */
export function aheadCount(): number {
  return ahead.size;
}

const noKind = () => false;
const format = (name: string, value: unknown) => {
  const f = FormatRegistry.Get(name);
  return f !== undefined && f(value as string);
};
const hash = (value: unknown) => Hash(value);

/**
 * Compile a schema once; the same schema object always gets the same checker. A generated checker is used
 * when the build made one for a schema of the same JSON; else TypeBox's TypeCompiler (in a binary built
 * without it, TypeBox's Errors interpreter, which Check then equals "no error").
 */
export function compiled<T extends TSchema>(schema: T): Checker<T> {
  let c = checkers.get(schema);
  if (!c) {
    const factory = ahead.size ? ahead.get(schemaKey(schema)) : undefined;
    if (factory) {
      const check = factory(noKind, format, hash);
      c = { Check: check as Checker["Check"], Errors: (value) => Errors(schema, [], value) };
    } else if (process.env.MVM_CHECKERS === "ahead") {
      // Built without a schema compiler (scripts/build.ts defines it, so the branch below and TypeCompiler drop out).
      c = { Check: ((value: unknown) => Errors(schema, [], value).First() === undefined) as Checker["Check"], Errors: (value) => Errors(schema, [], value) };
    } else {
      c = TypeCompiler.Compile(schema);
    }
    checkers.set(schema, c);
  }
  return c as Checker<T>;
}

/** Up to 20 `{path, message}` lines saying why a value fails a schema. */
export function schemaErrors(check: Checker, value: unknown): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  for (const e of check.Errors(value)) {
    out.push({ path: e.path || "/", message: e.message });
    if (out.length >= 20) break;
  }
  return out;
}
