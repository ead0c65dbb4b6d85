// The man page mvmctl(1): the committed man/mvmctl.1 is what the generator makes from the command table now, it
// renders without a warning (groff -ww) and through man -l, and it names every command and flag.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { commandInfo } from "./cli-model.ts";
import { manPage } from "./man.ts";
import { COMMANDS } from "./run.ts";

const PAGE = join(import.meta.dir, "../../man/mvmctl.1");
const has = (tool: string) => Bun.spawnSync(["sh", "-c", `command -v ${tool}`]).exitCode === 0;

test("man/mvmctl.1 is the generator's page for the command table as it is (run `bun scripts/gen-docs.ts` to refresh)", () => {
  expect(readFileSync(PAGE, "utf8")).toBe(manPage(COMMANDS, pkg.version));
});

test("package.json ships it: `man` names it and `files` holds man/", () => {
  expect((pkg as { man?: string[] }).man).toEqual(["./man/mvmctl.1"]);
  expect(pkg.files).toContain("man/");
});

describe.skipIf(!has("groff"))("rendered", () => {
  test("groff -man -ww: no warning, and every command and flag is on the page", () => {
    const r = Bun.spawnSync(["groff", "-k", "-man", "-Tutf8", "-ww", "-rLL=100n", PAGE], { stdout: "pipe", stderr: "pipe", env: { ...process.env, LANG: "C.UTF-8" } });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    // Plain text: groff's bold and underline overstrikes removed.
    const text = r.stdout.toString().replace(/.\x08/g, "");
    for (const section of ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "GLOBAL FLAGS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES"]) expect(text).toContain(`\n${section}\n`);
    for (const c of COMMANDS.map(commandInfo)) {
      expect(text).toContain(`   ${c.name}`);
      for (const f of c.flags) expect(text).toMatch(new RegExp(`--(\\[no-\\])?${f.long}\\b`));
    }
    expect(text).toContain("mvmctl wait web1 --for healthy --timeout 120");
  });

  test.skipIf(!has("man"))("man -l shows it", () => {
    const r = Bun.spawnSync(["man", "-l", PAGE], { stdout: "pipe", stderr: "pipe", env: { ...process.env, MANPAGER: "cat", PAGER: "cat", MANWIDTH: "100", LANG: "C.UTF-8" } });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString().replace(/.\x08/g, "")).toMatch(/^MVMCTL\(1\) +mvmctl manual +MVMCTL\(1\)/);
  });
});
