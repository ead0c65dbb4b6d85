// Keeps docs/errors.md in step with the code catalog.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { coreRequests } from "../agent/wire.ts";
import { coreRequestLines, errorsDoc, protocolDoc } from "./gen-docs.ts";

test("docs/errors.md documents every error code (run `bun scripts/gen-docs.ts` to refresh)", () => {
  expect(readFileSync(join(import.meta.dir, "../docs/errors.md"), "utf8")).toBe(errorsDoc());
});

test("docs/protocol.md lists every request the core serves, as coreRequests declares them (run `bun scripts/gen-docs.ts`)", () => {
  const doc = readFileSync(join(import.meta.dir, "../docs/protocol.md"), "utf8");
  expect(protocolDoc(doc)).toBe(doc);
  for (const type of Object.keys(coreRequests)) expect(coreRequestLines()).toContain(`| \`${type}\` |`);
});
