// Agent answers checked against the schema their request declares: a malformed answer is an E_PROTOCOL ClientError, never data.

import type { Static, TSchema } from "@sinclair/typebox";
import type { ParamsOf, ResultOf } from "../../agent/plugin.ts";
import { compiled, schemaErrors } from "../../agent/router.ts";
import { BUNDLED_REQUESTS, type BundledRequestName } from "../../plugins/requests.ts";
import { ClientError } from "./errors.ts";

/**
 * One call to a VM's agent (the CLI's per-VM client, the bridge's pool): resolves with the result,
 * rejects with an error carrying a string `code`.
 * @example const call: AgentCall = (type, params, opts) => client.call(type, params, opts);
 */
export type AgentCall = (type: string, params: Record<string, unknown>, opts: { timeoutMs: number }) => Promise<unknown>;

/**
 * `value` if it matches `schema`, else a ClientError E_PROTOCOL naming the request and the first
 * failing path (never the guest's text). For answers the host acts on or shows.
 * @example const st = checkAnswer("status", StatusResult, await client.call("status"));
 */
export function checkAnswer<S extends TSchema>(type: string, schema: S, value: unknown): Static<S> {
  const check = compiled(schema);
  if (check.Check(value)) return value as Static<S>;
  const first = schemaErrors(check, value)[0];
  throw new ClientError("E_PROTOCOL", `the agent's answer to ${type} does not match its schema${first ? ` (${first.path}: ${first.message})` : ""}`);
}

/**
 * A bundled request whose answer must match the result schema its plugin declares (the registry's
 * entry): the snapshot loop never acts on a malformed "ready".
 * @example const r = await checkedCall(call, "sleep-prep", {}, 35_000); if (!r.ready) ...
 */
export async function checkedCall<K extends BundledRequestName>(call: AgentCall, type: K, params: ParamsOf<K>, timeoutMs: number): Promise<ResultOf<K>> {
  const result = await call(type, params as Record<string, unknown>, { timeoutMs });
  return checkAnswer(type, BUNDLED_REQUESTS[type].result, result) as ResultOf<K>;
}
