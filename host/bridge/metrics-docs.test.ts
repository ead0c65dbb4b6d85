// docs/metrics.md keeps step with the metrics: every family of FAMILIES with its type and labels, nothing else, and the caps' defaults.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RESERVED_LABELS } from "../client/vm-list.ts";
import { FAMILIES } from "./metrics.ts";
import { DEFAULT_METRICS_LIMITS } from "./metrics-vm.ts";

const DOC = readFileSync(join(import.meta.dir, "../../docs/metrics.md"), "utf8");

test("docs/metrics.md lists every family with its type and labels, and no other", () => {
  const rows = [...DOC.matchAll(/^\| `(mvm_[a-z0-9_]+)` \| (\w+) \| ([^|]+) \| ([^|]+) \|$/gm)];
  const documented = Object.fromEntries(
    rows.map((m) => {
      const labels = [...m[3]!.matchAll(/`([a-z_]+)`/g)].map((l) => l[1]!).filter((l) => l !== "vm");
      return [m[1]!, { type: m[2]!, labels, perVm: m[3]!.includes("`vm`"), meaning: m[4]!.trim() }];
    }),
  );
  expect(Object.keys(documented).sort()).toEqual(Object.keys(FAMILIES).sort());
  for (const [name, spec] of Object.entries(FAMILIES)) {
    const d = documented[name]!;
    expect({ name, type: d.type, labels: d.labels, perVm: d.perVm }).toEqual({ name, type: spec.type, labels: [...spec.labels], perVm: !("bridge" in spec) });
    expect(d.meaning.length).toBeGreaterThan(10);
  }
});

test("the caps' defaults and the reserved label names are the ones the code uses", () => {
  expect(DOC).toContain(`| \`integration\` | integrations with series | ${DEFAULT_METRICS_LIMITS.integrations} |`);
  expect(DOC).toContain(`| \`probe\` | probes with series | ${DEFAULT_METRICS_LIMITS.probes} |`);
  expect(DOC).toContain(`| ${DEFAULT_METRICS_LIMITS.probeFields} (\`mvmctl serve --metrics-max-probe-fields N\``);
  expect(DOC).toContain(`| ${DEFAULT_METRICS_LIMITS.requestTypes} |`);
  expect(DOC).toContain(`longer than ${DEFAULT_METRICS_LIMITS.labelValueChars} characters`);
  for (const l of RESERVED_LABELS) expect(DOC).toContain(`\`${l}\``);
  // Every label a family uses is reserved, so a vms.json label can never collide with it.
  for (const spec of Object.values(FAMILIES)) for (const l of spec.labels) expect(RESERVED_LABELS as readonly string[]).toContain(l);
});
