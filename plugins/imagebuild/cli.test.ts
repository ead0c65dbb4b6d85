// `mvm-guest-agent config`'s command line: one parser, mistakes named with the nearest sub-command or flag.

import { describe, expect, test } from "bun:test";
import { configCommand } from "./cli.ts";

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await configCommand(args, { dropins: {}, stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("config's arguments", () => {
  test("a mistyped sub-command or flag: exit 2, the nearest name, the usage", async () => {
    const sub = await run(["rendr", "--from", "x"]);
    expect(sub.code).toBe(2);
    expect(sub.err).toStartWith('config: unknown sub-command "rendr" (did you mean render?)\nusage:');
    const flag = await run(["render", "--form", "x", "--out", "y"]);
    expect(flag.code).toBe(2);
    expect(flag.err).toStartWith("config render: unknown flag --form (did you mean --from?) (see config --help)");
    expect((await run(["render", "--from=x"])).err).toStartWith("config render: --from and --out are required");
    expect((await run(["check", "a", "b"])).err).toStartWith("config check: expected one directory");
    expect((await run(["check", "--bogus"])).code).toBe(2);
  });

  test("--help and -h after a sub-command print the usage", async () => {
    for (const args of [["render", "--help"], ["check", "-h"], ["help"]]) expect(await run(args)).toMatchObject({ code: 0, out: expect.stringContaining("config check DIR") });
  });
});
