// definePlugin: flag values typed from their specs (compile errors checked with @ts-expect-error), and the module it makes.

import { describe, expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { createAgent } from "./agent.ts";
import { parseFlags } from "./flags.ts";
import { memoryLogger } from "./log.ts";
import { AgentError, definePlugin, defineRequests, type AgentConfig, type RequestTable, type StatusOf } from "./plugin.ts";

const config: AgentConfig = { configDir: "/nonexistent", build: "dev", version: "0.0.0", maxFrameBytes: 1 << 20, file: {} };

const greetRequests = {
  "greet.hi": { params: Type.Object({ who: Type.String() }), result: Type.Object({ text: Type.String() }), description: "Says hi." },
} satisfies RequestTable;

const greet = definePlugin({
  name: "greet",
  flags: {
    "greet-word": { type: "string", description: "Word", default: "hi" },
    "greet-times": { type: "number", description: "How often" },
    "greet-loud": { type: "boolean", description: "Shout", default: false },
    "greet-to": { type: "list", description: "Always greet these too" },
  },
  after: ["health"],
  create({ flags }) {
    // Typed from the specs: a default makes a value certain, lists are always arrays.
    const word: string = flags["greet-word"];
    const times: number | undefined = flags["greet-times"];
    const loud: boolean = flags["greet-loud"];
    const to: string[] = flags["greet-to"];
    // @ts-expect-error a misspelled flag name does not compile
    void flags["greet-wrd"];
    // @ts-expect-error a number flag without a default may be undefined
    const sure: number = flags["greet-times"];
    void sure;
    let said = 0;
    return {
      requests: defineRequests(greetRequests, {
        "greet.hi": ({ who }) => {
          said++;
          const text = `${word} ${[who, ...to].join(", ")}`.repeat(times ?? 1);
          return { text: loud ? text.toUpperCase() : text };
        },
      }),
      status: () => ({ said }),
    };
  },
});

describe("definePlugin", () => {
  test("defaults must match their flag's type, at compile time", () => {
    const ok = definePlugin({ name: "a", flags: { "a-n": { type: "number", description: "n", default: 3 } }, create: () => null });
    expect(ok.flags).toEqual({ "a-n": { type: "number", description: "n", default: 3 } });
    // @ts-expect-error a number flag with a text default does not compile
    definePlugin({ name: "b", flags: { "b-n": { type: "number", description: "n", default: "3" } }, create: () => null });
    // @ts-expect-error a list flag with a text default does not compile
    definePlugin({ name: "c", flags: { "c-l": { type: "list", description: "l", default: "x" } }, create: () => null });
    // @ts-expect-error an unknown kind does not compile
    definePlugin({ name: "d", flags: { "d-x": { type: "integer", description: "x" } }, create: () => null });
    // No flags: every name is a misspelling.
    definePlugin({
      name: "e",
      create({ flags }) {
        // @ts-expect-error there are no flags to read
        void flags["e-x"];
        return null;
      },
    });
  });

  test("the status section's type comes from the status hook", () => {
    const s: StatusOf<typeof greet> = { said: 1 };
    // @ts-expect-error the section has no such field
    const t: StatusOf<typeof greet> = { sayed: 1 };
    expect([s, t].length).toBe(2);
  });

  test("the module serves: name, needs and after filled in, flags parsed by the core's parser", async () => {
    const { values } = parseFlags(["--greet-times", "2", "--greet-to", "ops", "--greet-loud"], greet.flags!);
    const plugin = greet.create({ flags: values, config })!;
    expect(plugin.name).toBe("greet");
    expect(plugin.after).toEqual(["health"]);
    expect(plugin.needs).toBeUndefined();
    const agent = createAgent({ plugins: [plugin], log: memoryLogger() });
    await agent.start();
    expect(await agent.call("greet.hi" as string, { who: "dev" })).toEqual({ text: "HI DEV, OPSHI DEV, OPS" });
    expect((await agent.call("status")).plugins.greet).toEqual({ said: 1 });
    await agent.stop();
  });

  test("create may stay out (null), and a body that names itself otherwise is refused", () => {
    expect(definePlugin({ name: "off", create: () => null }).create({ flags: {}, config })).toBeNull();
    const liar = definePlugin({ name: "one", create: () => ({ name: "two" }) as never });
    expect(() => liar.create({ flags: {}, config })).toThrow(/returned a plugin named "two"/);
  });

  test("a definition without a name or a create is a TypeError at once", () => {
    expect(() => definePlugin({ name: "", create: () => null })).toThrow(TypeError);
    expect(() => definePlugin({ name: "x" } as never)).toThrow(/create/);
  });
});

describe("AgentError across copies of the module", () => {
  test("an error marked by another copy is an AgentError; its code reaches the wire", async () => {
    // What a second copy of agent/errors.ts makes: another class, the same global mark.
    class OtherCopy extends Error {
      constructor(readonly code: string, message: string, readonly data?: unknown) {
        super(message);
        Object.defineProperty(this, Symbol.for("mvm-guest-agent.AgentError"), { value: true });
      }
    }
    const e = new OtherCopy("E_NOT_FOUND", "no such thing", { name: "x" });
    expect(e instanceof AgentError).toBe(true);
    expect(new Error("plain") instanceof AgentError).toBe(false);
    expect((null as unknown) instanceof AgentError).toBe(false);
    const agent = createAgent({
      plugins: [
        {
          name: "x",
          requests: {
            "x.find": { params: Type.Object({}), result: Type.Null(), handle: () => { throw e; } },
            "x.odd": { params: Type.Object({}), result: Type.Null(), handle: () => { throw new OtherCopy("\u001b[31mE_X", "odd"); } },
          },
        },
      ],
      log: memoryLogger(),
    });
    await agent.start();
    expect(await agent.dispatch({ type: "x.find" })).toEqual({ type: "x.find", ok: false, error: { code: "E_NOT_FOUND", message: "no such thing", data: { name: "x" } } });
    // A code that is not a code (control characters, no E_ prefix) is not passed on.
    expect(await agent.dispatch({ type: "x.odd" })).toMatchObject({ ok: false, error: { code: "E_INTERNAL", message: "odd" } });
    await agent.stop();
  });

  test("subclasses keep the ordinary instanceof", () => {
    class Special extends AgentError {}
    expect(new Special("E_BUSY", "b") instanceof Special).toBe(true);
    expect(new AgentError("E_BUSY", "b") instanceof Special).toBe(false);
    expect(new Special("E_BUSY", "b") instanceof AgentError).toBe(true);
  });
});
