// docs/client.md's table of client error codes is the catalog in errors.ts, code for code.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CLIENT_ERROR_CODES } from "./errors.ts";

test("docs/client.md lists exactly the client's codes", () => {
  const doc = readFileSync(join(import.meta.dir, "../../docs/client.md"), "utf8");
  const section = doc.slice(doc.indexOf("The client's own codes"), doc.indexOf("The table is `CLIENT_ERROR_CODES`"));
  const documented = [...section.matchAll(/^\| `(E_[A-Z_]+)` \|/gm)].map((m) => m[1]);
  expect(documented.sort()).toEqual(Object.keys(CLIENT_ERROR_CODES).sort());
});
