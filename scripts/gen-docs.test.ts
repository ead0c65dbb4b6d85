// Keeps docs/errors.md in step with the code catalog.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { errorsDoc } from "./gen-docs.ts";

test("docs/errors.md documents every error code (run `bun scripts/gen-docs.ts` to refresh)", () => {
  expect(readFileSync(join(import.meta.dir, "../docs/errors.md"), "utf8")).toBe(errorsDoc());
});
