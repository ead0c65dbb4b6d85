// The VMM error catalog and its table in docs/snapshot.md stay in step.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { VMM_ERROR_CODES } from "./errors.ts";

test("every VMM error code is in docs/snapshot.md with its sentence, and the table has no other", () => {
  const doc = readFileSync(join(import.meta.dir, "../../../docs/snapshot.md"), "utf8");
  const rows = [...doc.matchAll(/^\| `(E_VMM_[A-Z_]+)` \| (.+) \|$/gm)].map((m) => [m[1], m[2]]);
  expect(Object.fromEntries(rows)).toEqual({ ...VMM_ERROR_CODES });
});
