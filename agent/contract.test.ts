// The contract finds what it promises to find: each broken module below breaks one rule, and only that check complains.

import { describe, expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { pluginContract, type ContractOptions } from "./contract.ts";
import { definePlugin, type PluginModule } from "./plugin.ts";

const P = Type.Object({}, { additionalProperties: false });
const R = Type.Object({ ok: Type.Boolean() }, { additionalProperties: false });
const req = (extra: Record<string, unknown> = {}) => ({ params: P, result: R, description: "Does it.", handle: () => ({ ok: true }), ...extra });

/** Problems per check, by the check's first words. */
async function problems(m: PluginModule, opts: ContractOptions = {}): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const c of pluginContract(m, opts)) out[c.name.split(" ").slice(0, 3).join(" ")] = await c.run();
  return out;
}
const all = (r: Record<string, string[]>) => Object.values(r).flat();

const good = definePlugin({
  name: "good",
  flags: { "good-every": { type: "number", description: "ms", default: 1000 } },
  create: ({ flags }) => ({
    requests: { "good.do": req({ deadlineParam: undefined }) },
    start(ctx) {
      ctx.every(flags["good-every"], () => {});
      const t = ctx.clock.setTimeout(() => {}, 10_000);
      ctx.onDispose(() => ctx.clock.clearTimeout(t));
    },
    status: () => ({ fine: true }),
  }),
});

describe("pluginContract", () => {
  test("a good module has no problems", async () => {
    expect(all(await problems(good))).toEqual([]);
  });

  test("names and flags: bad name, the core's flag, a neighbour's flag and name, a default of the wrong kind", async () => {
    const neighbour: PluginModule = { name: "health", flags: { "health-x": { type: "string", description: "x" } }, create: () => null };
    const bad: PluginModule = {
      name: "Bad Name",
      flags: { listen: { type: "string", description: "mine" }, "health-x": { type: "string", description: "theirs" }, "n": { type: "number", description: "n", default: "3" as never } },
      create: () => null,
    };
    const r = all(await problems(bad, { alongside: [neighbour] }));
    expect(r).toContain('module name "Bad Name" is not a lowercase name (a-z, 0-9, . _ -)');
    expect(r).toContain("flag --listen is the core's");
    expect(r).toContain("flag --health-x is plugin health's");
    expect(r.some((x) => x.includes('flag --n is declared number but its default is "3"'))).toBe(true);
    expect(all(await problems({ name: "health", create: () => null }, { alongside: [neighbour, { ...neighbour }] }))).toContain("module name health is taken by a module beside it");
  });

  test("create: a plugin named otherwise, a need nobody brings", async () => {
    const r = all(await problems({ name: "m", create: () => ({ name: "other", needs: ["health"] }) }));
    expect(r).toContain('the plugin is named "other", its module "m"');
    expect(r).toContain("needs plugin health, which is not among the modules beside it (pass it in alongside)");
  });

  test("requests: a bad name, a taken one, a plain-object schema, no description, a deadline param that is no number, an event that does not compile", async () => {
    const m: PluginModule = {
      name: "r",
      create: () => ({
        name: "r",
        requests: {
          "Bad Name": req(),
          status: req(),
          "r.plain": req({ params: { type: "object" } }),
          "r.nodesc": req({ description: " " }),
          "r.deadline": req({ deadlineParam: "wait" }),
          "r.events": req({ events: { tick: { [Symbol.for("TypeBox.Kind")]: "Nope" } } }),
        } as never,
      }),
    };
    const r = (await problems(m))["every request has"]!;
    expect(r.some((x) => x.startsWith('request "Bad Name": not a request name'))).toBe(true);
    expect(r).toContain("request status is served by core already");
    expect(r).toContain("request r.plain: params is not a TypeBox schema");
    expect(r).toContain("request r.nodesc: no description (listings, describe and the host's OpenAPI show it)");
    expect(r).toContain("request r.deadline: deadlineParam wait is not a number field of its params");
    expect(r.some((x) => x.startsWith("request r.events: event tick does not compile"))).toBe(true);
  });

  test("lifecycle: a timer left behind, a schedule started outside the context, a status that is not JSON, a start that throws", async () => {
    const leaky = definePlugin({
      name: "leaky",
      create: () => ({
        start(ctx) {
          ctx.clock.setTimeout(() => {}, 60_000);
        },
        status: () => ({ big: 1n }),
      }),
    });
    const r = (await problems(leaky))["starts and stops"]!;
    expect(r).toContain("1 timer(s) left on the clock after stop");
    expect(r.some((x) => x.startsWith("its status section cannot be written as JSON"))).toBe(true);
    const broken = definePlugin({ name: "broken", create: () => ({ start() { throw new Error("no"); } }) });
    expect((await problems(broken))["starts and stops"]!.some((x) => x.startsWith("start failed"))).toBe(true);
  });

  test("its needs start with it", async () => {
    let started = false;
    const base: PluginModule = { name: "base", create: () => ({ name: "base", start: () => void (started = true) }) };
    const top = definePlugin({ name: "top", needs: ["base"], create: () => ({}) });
    expect(all(await problems(top, { alongside: [base] }))).toEqual([]);
    expect(started).toBe(true);
  });
});
