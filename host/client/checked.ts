// Agent answers checked against the schema their plugin declares: a malformed answer is an E_PROTOCOL ClientError, never data.

import type { Static, TSchema } from "@sinclair/typebox";
import { compiled, schemaErrors } from "../../agent/router.ts";
import { ClientError } from "./errors.ts";

/**
 * `value` if it matches `schema`, else a ClientError E_PROTOCOL naming the request and the first
 * failing path. For answers the host acts on (a sleep-prep's `ready`) or shows (status sections).
 * @example const st = checkAnswer("status", StatusResult, await client.call("status"));
 */
export function checkAnswer<S extends TSchema>(type: string, schema: S, value: unknown): Static<S> {
  const check = compiled(schema);
  if (check.Check(value)) return value as Static<S>;
  const first = schemaErrors(check, value)[0];
  throw new ClientError("E_PROTOCOL", `the agent's answer to ${type} does not match its schema${first ? ` (${first.path}: ${first.message})` : ""}`);
}
