// Generates docs/errors.md from the code catalogs in agent/errors.ts, the list of the core's requests in
// docs/protocol.md from coreRequests, and man/mvmctl.1 from mvmctl's command table (tests keep all three in step).

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES, REGISTRATION_CODES } from "../agent/errors.ts";
import { coreRequests } from "../agent/wire.ts";
import { manPage } from "../host/cli/man.ts";
import { COMMANDS } from "../host/cli/run.ts";
import pkg from "../package.json" with { type: "json" };

/** The roff of man/mvmctl.1 (shipped in the npm package through package.json's `man`). */
export function mvmctlManPage(): string {
  return manPage(COMMANDS, pkg.version);
}

const PROTOCOL_START = "<!-- generated from coreRequests (agent/wire.ts) by bun scripts/gen-docs.ts: do not edit between these lines -->";
const PROTOCOL_END = "<!-- /generated -->";

/** The generated lines of docs/protocol.md's built-in requests: one per core request, its description. */
export function coreRequestLines(): string {
  return Object.entries(coreRequests)
    .map(([type, decl]) => `| \`${type}\` | ${decl.description} |`)
    .reduce((out, row) => `${out}\n${row}`, "| request | what it answers |\n| --- | --- |");
}

/** docs/protocol.md with its generated section replaced by `coreRequestLines()`. */
export function protocolDoc(current: string): string {
  const a = current.indexOf(PROTOCOL_START);
  const b = current.indexOf(PROTOCOL_END);
  if (a < 0 || b < a) throw new Error("docs/protocol.md lacks its generated section's markers");
  return `${current.slice(0, a + PROTOCOL_START.length)}\n${coreRequestLines()}\n${current.slice(b)}`;
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
    "Host-side codes of the client (`ClientError`) are documented in [client.md](client.md); the HTTP status the",
    "bridge answers for each wire code is in [bridge.md](bridge.md#agent-error-codes).",
    "",
  ].join("\n");
}

if (import.meta.main) {
  writeFileSync(join(import.meta.dir, "../docs/errors.md"), errorsDoc());
  mkdirSync(join(import.meta.dir, "../man"), { recursive: true });
  writeFileSync(join(import.meta.dir, "../man/mvmctl.1"), mvmctlManPage());
  const protocol = join(import.meta.dir, "../docs/protocol.md");
  writeFileSync(protocol, protocolDoc(readFileSync(protocol, "utf8")));
  console.log("wrote docs/errors.md, docs/protocol.md's built-in requests and man/mvmctl.1");
}
