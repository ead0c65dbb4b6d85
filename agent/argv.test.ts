// The one argv parser: typed values, defaults, negation, lists, short aliases, `--`, help lines, "did you mean", hostile input.

import { describe, expect, test } from "bun:test";
import { defineFlags, didYouMean, FlagError, formatFlags, nearest, parseArgv, unknownCommand, type ArgSpecs } from "./argv.ts";

const FLAGS = defineFlags({
  json: { type: "boolean", description: "JSON output" },
  lines: { type: "number", short: "n", description: "Lines", default: 20 },
  follow: { type: "boolean", short: "f", description: "Follow" },
  cwd: { type: "string", arg: "DIR", description: "Working directory" },
  env: { type: "list", arg: "K=V", description: "Environment" },
  clock: { type: "boolean", description: "Send the time", default: true },
  "no-exec": { type: "boolean", description: "Leave exec out" },
});

const fails = (argv: string[], specs: ArgSpecs = FLAGS, help?: string) => {
  try {
    parseArgv(argv, specs, help ? { help } : {});
  } catch (e) {
    expect(e).toBeInstanceOf(FlagError);
    return (e as Error).message;
  }
  throw new Error(`${JSON.stringify(argv)} parsed`);
};

describe("values", () => {
  test("defaults, typed values, lists always arrays, positionals and the tail after --", () => {
    const none = parseArgv([], FLAGS);
    expect(none.values).toEqual({ json: undefined, lines: 20, follow: undefined, cwd: undefined, env: [], clock: true, "no-exec": undefined });
    expect(none.tail).toBeNull();
    const p = parseArgv(["vm1", "--json", "-n", "5", "--cwd=/srv", "--env", "A=1", "--env=B=2", "x", "--", "uname", "--json", "-a"], FLAGS);
    const lines: number = p.values.lines; // typed: a number, since it has a default
    expect(lines).toBe(5);
    expect(p.values).toMatchObject({ json: true, cwd: "/srv", env: ["A=1", "B=2"] });
    expect(p.positionals).toEqual(["vm1", "x"]);
    expect(p.tail).toEqual(["uname", "--json", "-a"]);
  });

  test("--no-x, --x=true|false, a no-x switch turned off by --x, the last value wins", () => {
    expect(parseArgv(["--no-clock"], FLAGS).values.clock).toBe(false);
    expect(parseArgv(["--json=false", "--follow=true"], FLAGS).values).toMatchObject({ json: false, follow: true });
    expect(parseArgv(["--no-exec"], FLAGS).values["no-exec"]).toBe(true);
    expect(parseArgv(["--no-exec", "--exec"], FLAGS).values["no-exec"]).toBe(false);
    expect(parseArgv(["-n", "1", "--lines=2", "-n3"], FLAGS).values.lines).toBe(3);
  });

  test("a value may start with a dash; numbers are any finite number", () => {
    expect(parseArgv(["--cwd", "-x"], FLAGS).values.cwd).toBe("-x");
    expect(parseArgv(["--lines", "-5"], FLAGS).values.lines).toBe(-5);
    expect(parseArgv(["--lines", "1e3"], FLAGS).values.lines).toBe(1000);
    expect(parseArgv(["--cwd="], FLAGS).values.cwd).toBe("");
  });

  test("a list's default is replaced by the first given value, not added to", () => {
    const specs = defineFlags({ listen: { type: "list", description: "Where", default: ["vsock:52"] } });
    expect(parseArgv([], specs).values.listen).toEqual(["vsock:52"]);
    expect(parseArgv(["--listen", "unix:/a", "--listen", "vsock:5"], specs).values.listen).toEqual(["unix:/a", "vsock:5"]);
    // the default array is never shared with the values
    parseArgv([], specs).values.listen.push("x");
    expect(parseArgv([], specs).values.listen).toEqual(["vsock:52"]);
  });
});

describe("errors name the flag", () => {
  test("unknown flags, with the nearest one and the help hint", () => {
    expect(fails(["--jsno"])).toBe("unknown flag --jsno (did you mean --json?)");
    expect(fails(["--bogus"], FLAGS, "see mvmctl ls --help")).toBe("unknown flag --bogus (see mvmctl ls --help)");
    expect(fails(["--folow"], FLAGS, "see --help")).toBe("unknown flag --folow (did you mean --follow?) (see --help)");
    expect(fails(["-x"], FLAGS, "see mvmctl logs --help")).toBe("unknown flag -x (see mvmctl logs --help)");
    expect(fails(["-fn", "5"], FLAGS, "see mvmctl logs --help")).toBe("unknown flag -fn (short flags cannot be combined; long ones take two dashes; see mvmctl logs --help)");
    expect(fails(["-json"])).toContain("short flags cannot be combined");
  });

  test("missing and bad values", () => {
    expect(fails(["--cwd"])).toBe("--cwd needs a value");
    expect(fails(["-n"])).toBe("-n needs a value");
    expect(fails(["--lines", "lots"])).toBe('--lines: expected a number, got "lots"');
    expect(fails(["--lines", " "])).toBe('--lines: expected a number, got " "');
    expect(fails(["--lines=Infinity"])).toContain("expected a number");
    expect(fails(["--json=yes"])).toBe('--json: expected true or false, got "yes"');
    expect(fails(["--no-clock=yes"])).toBe("--no-clock takes no value");
    expect(fails(["--no-cwd"])).toBe("unknown flag --no-cwd (--cwd takes a value; only switches have a --no- form)");
  });

  test("hostile names: Object.prototype's keys, odd dashes, control characters are unknown flags, never values", () => {
    for (const name of ["--constructor", "--__proto__", "--toString", "--hasOwnProperty", "---json", "--=x"]) expect(fails([name])).toStartWith("unknown flag");
    expect(fails(["--\x1b[2J"])).toBe("unknown flag --\\e[2J");
    expect(fails(["--cwd=x", "--lines", "\u009b31m"])).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    // a huge command line is parsed, not choked on
    const many = Array.from({ length: 20_000 }, (_, i) => `--env=K${i}=v`);
    expect(parseArgv(many, FLAGS).values.env.length).toBe(20_000);
  });

  test("specs built at run time are checked: a default of the wrong type, a short alias used twice", () => {
    expect(fails([], { n: { type: "number", description: "x", default: "5" as unknown as number } })).toBe('flag --n is declared number but its default is "5"');
    expect(fails([], { a: { type: "boolean", short: "x", description: "" }, b: { type: "boolean", short: "x", description: "" } })).toBe("flags --a and --b both claim -x");
    expect(fails([], { a: { type: "boolean", short: "xy", description: "" } })).toContain("must be one letter");
  });
});

describe("a first pass over global flags (untilPositional)", () => {
  const GLOBAL = defineFlags({ vms: { type: "string", description: "" }, timeout: { type: "number", description: "" }, color: { type: "boolean", description: "" } });
  test("stops at the command; unknown flags before it are kept for the command's own pass", () => {
    const p = parseArgv(["--vms", "v.json", "--json", "ls", "--timeout", "3", "--", "x"], GLOBAL, { untilPositional: true });
    expect(p.values.vms).toBe("v.json");
    expect(p.values.timeout).toBeUndefined();
    expect(p.positionals).toEqual(["ls"]);
    expect(p.rest).toEqual(["--json", "--timeout", "3", "--", "x"]);
    expect(p.unknown).toEqual(["--json"]);
    expect(parseArgv(["--no-color", "--bogus=1"], GLOBAL, { untilPositional: true })).toMatchObject({ values: { color: false }, rest: ["--bogus=1"] });
  });
});

describe("help and suggestions", () => {
  test("help lines show aliases, value names, repeatable lists, negatable switches and defaults", () => {
    const text = formatFlags(FLAGS);
    expect(text).toContain("  -n, --lines N");
    expect(text).toContain("Lines [default: 20]");
    expect(text).toContain("--cwd DIR");
    expect(text).toContain("--env K=V (repeatable)");
    expect(text).toContain("--[no-]clock");
    expect(text).not.toContain("[default: false]");
  });

  test("nearest: the closest within one edit per three letters (a swap is one), or a prefix; at most three", () => {
    expect(nearest("helth", ["health", "ls", "logs"])).toEqual(["health"]);
    expect(nearest("stat", ["status", "start", "wake"])).toEqual(["status", "start"]);
    expect(nearest("jsno", ["json", "logs"])).toEqual(["json"]);
    expect(nearest("folow", ["follow", "color"])).toEqual(["follow"]);
    expect(nearest("integraton", ["integration", "probe"])).toEqual(["integration"]);
    expect(nearest("x".repeat(10_000), ["x"])).toEqual([]);
    expect(nearest("zzzzzz", ["health"])).toEqual([]);
    expect(nearest("", ["a"])).toEqual([]);
    expect(didYouMean("lgs", ["logs", "ls"], (c) => `--${c}`)).toBe(" (did you mean --logs or --ls?)");
    expect(unknownCommand("helth", ["health", "ls"]).message).toBe('unknown command "helth" (did you mean health?)');
    expect(unknownCommand("frobnicate", ["health", "ls"]).message).toBe('unknown command "frobnicate" (commands: health, ls)');
  });
});

describe("types (checked by tsc --noEmit)", () => {
  test("a default of the wrong type and a misspelled flag name do not compile", () => {
    // @ts-expect-error a number flag with a text default
    defineFlags({ n: { type: "number", description: "x", default: "5" } });
    const { values } = parseArgv([], FLAGS);
    // @ts-expect-error no flag is called "jsno"
    expect(values.jsno).toBeUndefined();
    const cwd: string | undefined = values.cwd;
    const env: string[] = values.env;
    expect([cwd, env]).toEqual([undefined, []]);
  });
});
