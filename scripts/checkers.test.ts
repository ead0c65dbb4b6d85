// Build-time checkers (scripts/checkers.ts) against TypeBox's own compiler: same verdicts, same errors.

import { describe, expect, test } from "bun:test";
import { FormatRegistry, Type, type TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { Hash } from "@sinclair/typebox/value";
import { aheadCount, compiled, schemaKey, type CheckFactory } from "../agent/checkers.ts";
import { coreRequests, Envelope } from "../agent/wire.ts";
import { builtinModules } from "../plugins/index.ts";
import { STRUCT_VERBS } from "../plugins/mvm-compat/schemas.ts";
import { checkersSource } from "./checkers.ts";

/** The generated module's factories, read back from its source without registering them. */
function factories(source: string): Record<string, CheckFactory> {
  const body = source.slice(source.indexOf("registerCheckers(") + "registerCheckers(".length, source.lastIndexOf(");"));
  return new Function(`return (${body});`)() as Record<string, CheckFactory>;
}

FormatRegistry.Set("lower-only", (v) => /^[a-z]*$/.test(v));
const Sample = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 8, format: "lower-only" }),
    tags: Type.Array(Type.Integer({ minimum: 0 }), { uniqueItems: true, maxItems: 3 }),
    mode: Type.Union([Type.Literal("a"), Type.Literal("b")]),
    extra: Type.Optional(Type.Record(Type.String(), Type.Number())),
  },
  { additionalProperties: false },
);
const values: unknown[] = [
  { name: "abc", tags: [1, 2], mode: "a" },
  { name: "abc", tags: [1, 1], mode: "a" },
  { name: "ABC", tags: [], mode: "b" },
  { name: "", tags: [], mode: "a" },
  { name: "abc", tags: [1, 2, 3, 4], mode: "a" },
  { name: "abc", tags: [-1], mode: "a" },
  { name: "abc", tags: [], mode: "c" },
  { name: "abc", tags: [], mode: "a", extra: { x: 1 } },
  { name: "abc", tags: [], mode: "a", extra: { x: "1" } },
  { name: "abc", tags: [], mode: "a", other: 1 },
  null,
  [],
  "abc",
];

describe("scripts/checkers.ts", () => {
  test("generates a checker for the envelope, every core request, every mvm verb and every bundled plugin request", () => {
    const { source, generated, skipped } = checkersSource(builtinModules());
    expect(skipped).toEqual([]);
    const f = factories(source);
    expect(Object.keys(f).length).toBe(generated);
    const wanted: TSchema[] = [Envelope, ...Object.values(STRUCT_VERBS), ...Object.values(coreRequests).flatMap((s) => [s.params, s.result])];
    const core = wanted.length;
    for (const m of builtinModules()) {
      const p = m.create({ flags: {}, config: { configDir: "/nonexistent", build: "dev", version: "0", maxFrameBytes: 1 << 20, file: {} } });
      for (const spec of Object.values(p?.requests ?? {})) wanted.push(spec.params, spec.result);
    }
    expect(wanted.length - core).toBeGreaterThan(10); // the plugins' requests are in
    for (const s of wanted) expect(f[schemaKey(s)]).toBeFunction();
  });

  test("a generated checker gives TypeCompiler's verdict on valid and invalid values, formats and uniqueItems included", () => {
    const mod = { name: "sample", create: () => ({ name: "sample", requests: { "s.x": { params: Sample, result: Type.Object({}), handle: () => ({}) } } }) };
    const f = factories(checkersSource([mod]).source);
    const check = f[schemaKey(Sample)]!(() => false, (name, v) => FormatRegistry.Get(name)!(v as string), (v) => Hash(v));
    const reference = TypeCompiler.Compile(Sample);
    const verdicts = values.map((v) => check(v));
    expect(verdicts).toEqual(values.map((v) => reference.Check(v)));
    expect(verdicts.filter(Boolean).length).toBe(2);
  });

  test("a binary built without the compiler interprets a schema it has no checker for, with the same verdicts and errors", () => {
    const was = process.env.MVM_CHECKERS;
    process.env.MVM_CHECKERS = "ahead";
    try {
      const fresh = Type.Object({ ...Sample.properties }, { additionalProperties: false });
      const c = compiled(fresh);
      const reference = TypeCompiler.Compile(Sample);
      expect(values.map((v) => c.Check(v))).toEqual(values.map((v) => reference.Check(v)));
      expect([...c.Errors(values[3])].map((e) => e.path)).toEqual([...reference.Errors(values[3])].map((e) => e.path));
    } finally {
      if (was === undefined) delete process.env.MVM_CHECKERS;
      else process.env.MVM_CHECKERS = was;
    }
  });

  test("from source nothing is registered: schemas are compiled by TypeCompiler on first use, once per schema", () => {
    expect(aheadCount()).toBe(0);
    const c = compiled(Sample);
    expect(compiled(Sample)).toBe(c);
    expect(values.map((v) => c.Check(v))).toEqual(values.map((v) => TypeCompiler.Compile(Sample).Check(v)));
  });
});
