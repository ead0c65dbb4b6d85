// Generates docs/errors.md from the code catalogs in agent/errors.ts, and man/mvmctl.1 from mvmctl's command table
// (tests keep both in step).

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES, REGISTRATION_CODES } from "../agent/errors.ts";
import { manPage } from "../host/cli/man.ts";
import { COMMANDS } from "../host/cli/run.ts";
import pkg from "../package.json" with { type: "json" };

/** The roff of man/mvmctl.1 (shipped in the npm package through package.json's `man`). */
export function mvmctlManPage(): string {
  return manPage(COMMANDS, pkg.version);
}

/** The markdown of docs/errors.md. */
export function errorsDoc(): string {
  const table = (codes: Record<string, string>) => Object.entries(codes).map(([code, text]) => `| \`${code}\` | ${text} |`);
  return [
    "# Wire error codes",
    "",
    "Every failed answer carries `error: { code, message, data? }` with one of these codes. Generated from",
    "`agent/errors.ts` by `bun scripts/gen-docs.ts`; a test fails when this file is out of date.",
    "",
    "| code | when |",
    "| --- | --- |",
    ...table(ERROR_CODES),
    "",
    "## Boot codes",
    "",
    "A plugin list that cannot run never answers anything: the agent refuses to start (or a custom main's",
    "`createAgent` / `start` throws a `RegistrationError`) with one of these codes and a message naming the",
    "plugins, requests or services involved.",
    "",
    "| code | when |",
    "| --- | --- |",
    ...table(REGISTRATION_CODES),
    "",
    "Host-side codes of the client (`ClientError`) are documented in [client.md](client.md).",
    "",
  ].join("\n");
}

if (import.meta.main) {
  writeFileSync(join(import.meta.dir, "../docs/errors.md"), errorsDoc());
  mkdirSync(join(import.meta.dir, "../man"), { recursive: true });
  writeFileSync(join(import.meta.dir, "../man/mvmctl.1"), mvmctlManPage());
  console.log("wrote docs/errors.md and man/mvmctl.1");
}
