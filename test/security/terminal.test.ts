// Attack: text a guest controls reaches the operator's terminal raw through mvmctl and `config check`
// (a later review of 194acc4): file names in the overlay upper dir (`mvmctl diff`, fs-diff's errors),
// command output (`mvmctl health`, checkpoint details in `mvmctl sleep-prep`), names in status sections
// (`mvmctl status`), drop-in file names (`mvm-guest-agent config check DIR`). ESC sequences retitle the
// terminal or erase lines, CR and newline forge lines, bidi controls reorder what is shown. Real plugins,
// real files, mvmctl in memory (its human output; --json stays JSON).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dropinFormats } from "../../agent/main.ts";
import { tempDir, waitFor } from "../../agent/testing.ts";
import { fleet, loopAgent, mvmctl, type LoopAgent } from "../../host/testing.ts";
import { fsdiffPlugin } from "../../plugins/fsdiff/index.ts";
import { healthPlugin } from "../../plugins/health/index.ts";
import { configCommand } from "../../plugins/imagebuild/cli.ts";
import { builtinModules } from "../../plugins/index.ts";

/** ESC ] 0 ; (set the title) ... BEL, CR, a newline that would start a forged line, and bidi controls. */
const EVIL = "a\x1b]0;pwned\x07b\x1b[2Kc\rd\nFORGED line\u202ee\u2066f\u061cg\u200eh\u2028i";
/** What must never appear raw: C0 controls but the newlines that end our own lines, DEL, C1, the bidi controls, U+2028/2029. */
const RAW = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

function clean(out: string): void {
  const m = RAW.exec(out);
  expect(m ? `raw U+${m[0].charCodeAt(0).toString(16).padStart(4, "0")} at ${JSON.stringify(out.slice(Math.max(0, m.index - 20), m.index + 20))}` : null).toBeNull();
  expect(out.split("\n").filter((l) => l.startsWith("FORGED"))).toEqual([]);
}

/** With colour on, the only escapes are mvmctl's own colours (SGR of its palette): no other sequence. */
function cleanInColour(out: string): void {
  clean(out.replace(/\x1b\[(?:0|1|2|3[1-6]|90)m/g, ""));
}

const d = tempDir("mvm-terminal-");
let f: Awaited<ReturnType<typeof fleet>>;
let loop: LoopAgent;
const upper = join(d.path, `upper-${EVIL.replace(/\//g, "")}`);
const vms = () => ["--vms", f.vmsFile];

beforeAll(async () => {
  mkdirSync(upper);
  mkdirSync(join(d.path, "lower"));
  writeFileSync(join(upper, EVIL), "x");
  // Not valid UTF-8: fs-diff reports it as an error entry, with its (hostile) path.
  writeFileSync(Buffer.concat([Buffer.from(join(upper, EVIL)), Buffer.from([0xff])]), "y");
  mkdirSync(join(d.path, "etc", "integrations.d"), { recursive: true });
  writeFileSync(join(d.path, "etc", "integrations.d", "web.json"), JSON.stringify({ name: "web", health_cmd: `printf '%s' '${EVIL}'; exit 1`, health_interval_secs: 3600 }));
  loop = await loopAgent({ checkpoint: `printf '%s' '${EVIL}'; exit 3` });
  f = await fleet(
    [{ name: "g", plugins: [fsdiffPlugin({ upper, lower: join(d.path, "lower") }), healthPlugin({ configDir: join(d.path, "etc"), watch: false })] }],
    [{ name: "loop", agent: loop.address }],
  );
  await waitFor(async () => JSON.parse((await mvmctl([...vms(), "health", "g", "--json"])).stdout).integrations[0].last !== null, 10_000, "the first health check");
});
afterAll(async () => {
  await f.close();
  await loop.close();
  d.cleanup();
});

describe("mvmctl's human output", () => {
  test("diff: a file name with ESC, BEL, CR, newline and bidi controls, and fs-diff's error for another", async () => {
    const r = await mvmctl([...vms(), "diff", "g"]);
    expect(r.stdout).toContain("FORGED line"); // the name is shown, escaped
    expect(r.stderr).toContain("not valid UTF-8");
    clean(r.stdout);
    clean(r.stderr);
    const json = await mvmctl([...vms(), "diff", "g", "--json"]);
    expect(JSON.parse(json.stdout).map((c: { path: string }) => c.path)).toContain(`/${EVIL}`); // --json keeps the true name
    cleanInColour((await mvmctl([...vms(), "--color", "diff", "g"])).stdout);
  });

  test("health: a check's output", async () => {
    const r = await mvmctl([...vms(), "health", "g"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("pwned"); // shown, escaped (the agent keeps a detail's first line)
    clean(r.stdout);
    clean((await mvmctl([...vms(), "health", "g", "--check", "web"])).stdout);
    cleanInColour((await mvmctl([...vms(), "--color", "health", "g"])).stdout);
  });

  test("status: a plugin section's path", async () => {
    const r = await mvmctl([...vms(), "status", "g"]);
    expect(r.stdout).toContain("upper-a");
    clean(r.stdout);
    cleanInColour((await mvmctl([...vms(), "--color", "status", "g"])).stdout);
  });

  test("sleep-prep: a checkpoint's output in its step", async () => {
    const r = await mvmctl([...vms(), "sleep-prep", "loop"]);
    expect(r.code).toBe(1); // the critical checkpoint failed: not ready
    expect(r.stdout).toContain("pwned");
    clean(r.stdout);
    expect((await mvmctl([...vms(), "wake", "loop"])).code).toBe(0);
  });
});

test("mvm-guest-agent config check DIR: drop-in file names", async () => {
  const dir = join(d.path, "check");
  mkdirSync(join(dir, "integrations.d"), { recursive: true });
  mkdirSync(join(dir, "probes.d"));
  writeFileSync(join(dir, "integrations.d", `${EVIL}.json`), JSON.stringify({ name: "ok", health_cmd: "true" }));
  writeFileSync(join(dir, "probes.d", `${EVIL}.json`), "{not json");
  const out: string[] = [];
  const code = await configCommand(["check", dir], { dropins: dropinFormats(builtinModules()), stdout: (t) => out.push(t), stderr: (t) => out.push(t) });
  expect(code).toBe(1);
  const text = out.join("\n");
  expect(text).toContain("FORGED line");
  clean(text);
});

test("one escaping for the agent's console and the host's messages: bidi controls too", async () => {
  const { escapeControl } = await import("../../agent/log.ts");
  const { hasControl, printable } = await import("../../host/client/printable.ts");
  expect(escapeControl("a\u202eb\u2066c\u061cd\u200ee\u200ff\u2069g")).toBe("a\\u202eb\\u2066c\\u061cd\\u200ee\\u200ff\\u2069g");
  expect(printable(EVIL)).toBe(escapeControl(EVIL));
  clean(printable(EVIL));
  expect(hasControl("/srv/snap\u202e")).toBe(true);
  expect(hasControl("/srv/snap/日本")).toBe(false);
});
