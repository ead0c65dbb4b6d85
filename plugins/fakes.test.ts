// Fakes that stand in for one plugin in another plugin's tests are checked against the real plugin here.

import { expect, test } from "bun:test";
import { IntegrationFile } from "./health/schemas.ts";
import { integration } from "./snapshot/testkit.ts";

test("the snapshot testkit's integration has exactly the health plugin's file defaults", () => {
  expect(integration("db")).toEqual(IntegrationFile.parse({ name: "db" }));
  expect(integration("db", { checkpoint_cmd: "true", critical: true })).toEqual(IntegrationFile.parse({ name: "db", checkpoint_cmd: "true", critical: true }));
});
