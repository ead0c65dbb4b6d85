// Every command that prints JSON writes one complete document to stdout, or nothing: against an unreachable agent, an
// agent that answers errors, one that answers what breaks the schema, and a diff whose second page fails.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Value } from "@sinclair/typebox/value";
import { tempDir } from "../../agent/testing.ts";
import { FsDiffResult } from "../../plugins/fsdiff/schemas.ts";
import { lyingAgent, mvmctl } from "../testing.ts";
import { COMMANDS } from "./run.ts";

const d = tempDir("mvmctl-json-");
let vms: string;
const agents: { close(): Promise<void> }[] = [];

/** A first fs-diff page the real plugin could give, with a cursor to a second page that fails. */
const PAGE = {
  upper_dir: "/overlay/upper",
  lower_known: true,
  changes: [{ path: "/etc/hosts", kind: "modified", type: "file", size: 12 }],
  summary: { created: 0, modified: 1, deleted: 0, bytes: 12 },
  errors: [],
  next_cursor: "1",
};

beforeAll(async () => {
  expect(Value.Check(FsDiffResult, PAGE)).toBe(true);
  const busy = await lyingAgent(join(d.path, "busy.sock"), () => {
    throw { code: "E_BUSY", message: "try later \x1b[2J" };
  });
  const liar = await lyingAgent(join(d.path, "liar.sock"), () => ({ nonsense: "\x9b2J", ready: "yes" }));
  let pages = 0;
  const half = await lyingAgent(join(d.path, "half.sock"), (type) => {
    if (type !== "fs-diff") return {};
    if (pages++ % 2 === 0) return PAGE;
    throw { code: "E_INTERNAL", message: "the walk failed" };
  });
  agents.push(busy, liar, half);
  vms = join(d.path, "vms.json");
  const vmm = { kind: "firecracker", api: join(d.path, "missing-api.sock") };
  writeFileSync(
    vms,
    JSON.stringify({
      vms: [
        { name: "down", agent: `unix:${join(d.path, "missing.sock")}`, vmm },
        { name: "busy", agent: busy.address, vmm },
        { name: "liar", agent: liar.address, vmm },
        { name: "half", agent: half.address },
      ],
    }),
  );
});
afterAll(async () => {
  for (const a of agents) await a.close();
  d.cleanup();
});

/** Each command's arguments against VM `vm` (every command with a JSON output must be here). */
const ARGS: Record<string, (vm: string) => string[]> = {
  ls: () => [],
  status: (vm) => [vm],
  health: (vm) => [vm],
  probes: (vm) => [vm],
  ping: (vm) => [vm],
  diff: (vm) => [vm],
  "sleep-prep": (vm) => [vm],
  wake: (vm) => [vm],
  snapshot: (vm) => [vm, "--to", join(d.path, `snap-${vm}`)],
  restore: (vm) => [vm, "--from", join(d.path, `snap-${vm}`)],
  version: () => [],
};

/** stdout is empty, or exactly one JSON document (and nothing after it). */
function oneDocumentOrNothing(stdout: string): unknown {
  if (stdout === "") return undefined;
  expect(stdout.endsWith("\n")).toBe(true);
  // Raw terminal controls never reach stdout, even in JSON (DEL and C1 are \u escapes).
  expect(stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  return JSON.parse(stdout);
}

describe("--json: one complete document, or nothing", () => {
  test("every command that offers JSON is covered here", () => {
    const withJson = COMMANDS.filter((c) => Object.hasOwn(c.flags, "json")).map((c) => c.name).sort();
    expect(withJson).toEqual(Object.keys(ARGS).sort());
  });

  for (const vm of ["down", "busy", "liar"])
    for (const [name, args] of Object.entries(ARGS))
      for (const flag of [["--json"], ["-o", "json"]])
        test(`${name} ${flag.join(" ")} against ${vm}`, async () => {
          const r = await mvmctl(["--vms", vms, "--timeout", "1", name, ...args(vm), ...flag]);
          const doc = oneDocumentOrNothing(r.stdout);
          if (doc === undefined) {
            expect(r.code).not.toBe(0);
            expect(r.stderr).toMatch(/^mvmctl: /);
            expect(r.stderr).not.toContain("\x1b");
          }
        });

  test("ls and version still answer with a whole document, each failure in its row", async () => {
    const ls = oneDocumentOrNothing((await mvmctl(["--vms", vms, "--timeout", "1", "ls", "--json"])).stdout) as { vms: { name: string; error: { code: string } | null }[] };
    expect(ls.vms.map((v) => [v.name, v.error?.code])).toEqual([
      ["down", "E_SOCKET_MISSING"],
      ["busy", "E_BUSY"],
      ["liar", "E_PROTOCOL"],
      ["half", "E_PROTOCOL"],
    ]);
    const v = oneDocumentOrNothing((await mvmctl(["--vms", vms, "--timeout", "1", "version", "-o", "json"])).stdout) as { agents: { vm: string; reachable: boolean; error: { code: string } | null }[] };
    expect(v.agents.map((a) => [a.vm, a.reachable, a.error?.code])).toEqual([
      ["down", false, "E_SOCKET_MISSING"],
      ["busy", true, "E_BUSY"],
      ["liar", false, "E_PROTOCOL"],
      ["half", false, "E_PROTOCOL"],
    ]);
  });

  test("diff --json whose second page fails prints nothing (it used to print a lone '['), exit 4", async () => {
    const r = await mvmctl(["--vms", vms, "diff", "half", "--json"]);
    expect(r.stdout).toBe("");
    expect(r.code).toBe(4);
    expect(r.stderr).toBe("mvmctl: half: the walk failed [E_INTERNAL]\n");
    // In human form the first page was printed as it came; the failure follows on stderr.
    const human = await mvmctl(["--vms", vms, "diff", "half"]);
    expect(human.stdout).toBe("~ /etc/hosts\n");
    expect(human.code).toBe(4);
  });

  test("call prints the agent's answer as one document, or nothing on failure", async () => {
    expect(oneDocumentOrNothing((await mvmctl(["--vms", vms, "call", "liar", "status"])).stdout)).toEqual({ nonsense: "\x9b2J", ready: "yes" });
    const busy = await mvmctl(["--vms", vms, "call", "busy", "status"]);
    expect(busy.stdout).toBe("");
    expect(busy.code).toBe(4);
  });
});
