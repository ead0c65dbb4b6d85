// scripts/build.ts's command line (the compile itself is tested in build.test.ts).

import { describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { FlagError } from "../agent/argv.ts";
import { parseBuildArgs, usage } from "./build.ts";

describe("parseBuildArgs", () => {
  test("defaults, one flavor, repeated plugins resolved, a target", () => {
    expect(parseBuildArgs([])).toEqual({ out: join(import.meta.dir, "..", "dist"), flavors: ["prod", "dev"], plugins: [], mvmctl: true, help: false });
    expect(parseBuildArgs(["--prod-only", "--plugin", "a.ts", "--plugin=b.ts", "--out", "o", "--target", "bun-linux-arm64"])).toEqual({
      out: resolve("o"),
      flavors: ["prod"],
      plugins: [resolve("a.ts"), resolve("b.ts")],
      target: "bun-linux-arm64",
      mvmctl: false,
      help: false,
    });
    expect(parseBuildArgs(["--dev-only"]).flavors).toEqual(["dev"]);
    expect(parseBuildArgs(["-h"]).help).toBe(true);
    expect(usage()).toContain("--plugin FILE (repeatable)");
  });

  test("mistakes name the flag", () => {
    expect(() => parseBuildArgs(["--pluign", "x"])).toThrow("unknown flag --pluign (did you mean --plugin?)");
    expect(() => parseBuildArgs(["--out"])).toThrow("--out needs a value");
    expect(() => parseBuildArgs(["--prod-only", "--dev-only"])).toThrow("give one of them");
    expect(() => parseBuildArgs(["stray"])).toThrow(FlagError);
  });
});
