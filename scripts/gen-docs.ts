// Generates docs/errors.md from the code catalog in agent/errors.ts (a test keeps the two in step).

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES } from "../agent/errors.ts";

/** The markdown of docs/errors.md. */
export function errorsDoc(): string {
  const rows = Object.entries(ERROR_CODES).map(([code, text]) => `| \`${code}\` | ${text} |`);
  return [
    "# Wire error codes",
    "",
    "Every failed answer carries `error: { code, message, data? }` with one of these codes. Generated from",
    "`agent/errors.ts` by `bun scripts/gen-docs.ts`; a test fails when this file is out of date.",
    "",
    "| code | when |",
    "| --- | --- |",
    ...rows,
    "",
    "Host-side codes of the client (`ClientError`) are documented in [client.md](client.md).",
    "",
  ].join("\n");
}

if (import.meta.main) {
  writeFileSync(join(import.meta.dir, "../docs/errors.md"), errorsDoc());
  console.log("wrote docs/errors.md");
}
