// `mvmctl call VM TYPE [JSON]`: any request, custom plugins' included; prints the result as JSON.

import { callDeadlineMs } from "../client/deadlines.ts";
import { didYouMean } from "../../agent/argv.ts";
import { ClientError } from "../client/errors.ts";
import type { VmEntry } from "../client/vm-list.ts";
import { defineCommand, EXIT, UsageError, type Ctx } from "./command.ts";
import { jsonText } from "./output.ts";

/**
 * An unknown request gets the nearest names the agent serves (its `hello` list): the agent's own
 * answer, then ` (did you mean health-check?)`. Any other error is handed back as it was.
 */
async function withSuggestion(ctx: Ctx, vm: VmEntry, type: string, e: unknown): Promise<unknown> {
  if (!(e instanceof ClientError && e.fromAgent && e.code === "E_UNKNOWN_REQUEST")) return e;
  try {
    const hello = await ctx.call(vm, "hello");
    const hint = didYouMean(type, hello.requests);
    return hint ? new ClientError(e.code, `${e.message}${hint}`, e.data) : e;
  } catch {
    return e;
  }
}

export const callCommand = defineCommand({
  name: "call",
  summary: "Send any request to a VM's agent (custom plugin requests included) and print the result as JSON.",
  usage: "call VM TYPE [JSON-PARAMS] [--events]",
  details: `
JSON-PARAMS is one JSON object (default {}); use - to read it from stdin. Exit code 4 with the
agent's code and message when the agent answers an error (E_UNKNOWN_REQUEST, E_INVALID_PARAMS, ...).
--events prints each event frame of a streaming request as a JSON line { event, data } before the result.
Examples:
  mvmctl call vm1 hello
  mvmctl call vm1 health-check '{"name": "web"}'
  mvmctl call vm1 acme.flush '{"bucket": "logs"}'`,
  flags: {
    events: { type: "boolean", description: "Print event frames as JSON lines before the result." },
    "call-timeout": { type: "number", description: "Seconds to wait for the answer (default: the request's own declared bound plus --timeout, else --timeout)." },
  },
  args: { min: 2, max: 3 },
  complete: { args: ["vm", "request"] },
  async run(ctx, { values, args }) {
    const vm = ctx.vm(args[0]!);
    const type = args[1]!;
    if (!/^[a-z0-9][a-z0-9._-]{0,127}$/.test(type)) throw new UsageError(`call: ${JSON.stringify(type)} is not a request name (kebab-case, optionally namespaced like acme.flush)`);
    let text = args[2] ?? "{}";
    if (text === "-") text = new TextDecoder().decode(await ctx.io.readStdin());
    let params: unknown;
    try {
      params = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`call: the params are not valid JSON: ${(e as Error).message}`);
    }
    if (params === null || typeof params !== "object" || Array.isArray(params)) throw new UsageError("call: the params must be a JSON object, e.g. '{\"name\": \"web\"}'");
    const secs = values["call-timeout"];
    if (secs !== undefined && !(secs > 0)) throw new UsageError(`call: --call-timeout expects seconds above 0, got ${secs}`);
    // A request that declares how long its work may take (sleep-prep's drain, exec's timeout_secs) gets that long plus --timeout.
    const timeoutMs = secs !== undefined ? secs * 1000 : callDeadlineMs(type, params, ctx.io.globals.timeoutMs);
    let result: unknown;
    try {
      result = await ctx.callUnchecked(vm, type, params as Record<string, unknown>, {
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        onEvent: values.events ? (event, data) => ctx.io.out(jsonText({ event, data }, 0)) : undefined,
      });
    } catch (e) {
      throw await withSuggestion(ctx, vm, type, e);
    }
    ctx.io.out(jsonText(result));
    return EXIT.OK;
  },
});
