// createTestAgent: modules from their flags, files in the config dir, the manual clock's first runs, typed call and
// status, events, captured logs, an optional socket, and a clean close.

import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Type } from "@sinclair/typebox";
import { AgentError, definePlugin, defineRequests, type RequestTable } from "./plugin.ts";
import { createTestAgent, RawClient, writeFiles } from "./testing.ts";

const counterRequests = {
  "counter.get": { params: Type.Object({}, { additionalProperties: false }), result: Type.Object({ runs: Type.Integer(), motto: Type.String() }), description: "Runs so far." },
  "counter.find": { params: Type.Object({ name: Type.String() }), result: Type.Null(), description: "Finds nothing." },
  "counter.tick": { params: Type.Object({}), result: Type.Object({ ticks: Type.Integer() }), description: "Streams ticks.", events: { tick: Type.Integer() } },
} satisfies RequestTable;

const counter = definePlugin({
  name: "counter",
  flags: {
    "counter-every": { type: "number", description: "ms between runs", default: 60_000 },
    "counter-motto-file": { type: "string", description: "file in the config dir", default: "motto.txt" },
  },
  create({ flags, config }) {
    let runs = 0;
    const motto = () => {
      try {
        return readFileSync(join(config.configDir, flags["counter-motto-file"]), "utf8").trim();
      } catch {
        return "";
      }
    };
    return {
      requests: defineRequests(counterRequests, {
        "counter.get": () => ({ runs, motto: motto() }),
        "counter.find": ({ name }) => {
          throw new AgentError("E_NOT_FOUND", `no counter named ${name}`);
        },
        "counter.tick": (_p, req) => {
          for (let i = 1; i <= 3; i++) req.emit("tick", i);
          return { ticks: 3 };
        },
      }),
      start(ctx) {
        ctx.every(flags["counter-every"], () => {
          runs++;
          ctx.log.info(`run ${runs}`);
        });
      },
      status: () => ({ runs }),
    };
  },
});

describe("createTestAgent", () => {
  test("the first scheduled run has happened when it resolves; advance moves the schedule", async () => {
    const t = await createTestAgent({ plugins: [counter], flags: ["--counter-every", "1000"], files: { "motto.txt": "keep counting\n" } });
    expect(await t.call("counter.get" as string)).toEqual({ runs: 1, motto: "keep counting" });
    await t.advance(999);
    expect((await t.section(counter))?.runs).toBe(1);
    await t.advance(1);
    const section = await t.section(counter); // typed: { runs: number } | undefined
    expect(section?.runs).toBe(2);
    expect(t.logs(/counter run \d/).length).toBe(2);
    const s = await t.status();
    expect(s.state).toBe("running");
    expect(s.plugins.counter).toEqual({ runs: 2 });
    await t.close();
    expect(existsSync(t.dir)).toBe(false);
  });

  test("firstRuns: false leaves the first run to the test's own advance(0)", async () => {
    const t = await createTestAgent({ plugins: [counter], firstRuns: false });
    expect((await t.section(counter))?.runs).toBe(0);
    await t.advance(0);
    expect((await t.section(counter))?.runs).toBe(1);
    await t.close();
  });

  test("call throws the AgentError a handler threw; request and stream give the wire's view", async () => {
    const t = await createTestAgent({ plugins: [counter] });
    await expect(t.call("counter.find" as string, { name: "x" })).rejects.toMatchObject({ code: "E_NOT_FOUND", message: "no counter named x" });
    await expect(t.call("counter.get" as string, { extra: 1 })).rejects.toMatchObject({ code: "E_INVALID_PARAMS" });
    expect(await t.request("counter.find", { name: "y" })).toEqual({ type: "counter.find", ok: false, error: { code: "E_NOT_FOUND", message: "no counter named y" } });
    expect(await t.stream("counter.tick")).toEqual({
      events: [1, 2, 3].map((data) => ({ event: "tick", data })),
      answer: { type: "counter.tick", ok: true, result: { ticks: 3 } },
    });
    await t.close();
  });

  test("socket: true serves the agent on a unix socket in its dir", async () => {
    const t = await createTestAgent({ plugins: [counter], socket: true });
    expect(t.address).toBe(`unix:${t.dir}/agent.sock`);
    const c = await RawClient.connect(t.address!.slice(5));
    expect(await c.request({ type: "counter.get", id: 1 })).toMatchObject({ id: 1, ok: true, result: { runs: 1 } });
    c.close();
    await t.close();
    expect(existsSync(t.address!.slice(5))).toBe(false);
  });

  test("bad flags, a flag declared twice, and a stray argument are errors naming them", async () => {
    await expect(createTestAgent({ plugins: [counter], flags: ["--counter-evry", "5"] })).rejects.toThrow("unknown flag --counter-evry (did you mean --counter-every?)");
    await expect(createTestAgent({ plugins: [counter], flags: ["--counter-every", "soon"] })).rejects.toThrow('--counter-every: expected a number, got "soon"');
    await expect(createTestAgent({ plugins: [counter, { ...counter, name: "copy" }] })).rejects.toThrow("flag --counter-every of plugin copy is declared twice");
    await expect(createTestAgent({ plugins: [counter], flags: ["stray"] })).rejects.toThrow('unexpected argument "stray"');
  });

  test("the system clock has no advance", async () => {
    const t = await createTestAgent({ plugins: [], clock: "system" });
    await expect(t.advance(10)).rejects.toThrow("advance() needs the manual clock");
    await t.close();
  });

  test("files may not leave the config dir", async () => {
    for (const rel of ["../escape.json", "/etc/passwd", "a/../../b", ""]) {
      await expect(createTestAgent({ plugins: [], files: { [rel]: "x" } })).rejects.toThrow("is not a path inside the directory");
    }
    expect(() => writeFiles("/tmp/nonexistent-dir", { "../x": 1 })).toThrow(TypeError);
  });
});
