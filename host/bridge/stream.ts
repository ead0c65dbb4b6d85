// Server-sent event answers of the bridge: a streaming agent call (exec, any request) and a followed console log.

import type { Context } from "hono";
import { streamSSE, type SSEStreamingApi } from "hono/streaming";
import { callFailure } from "./input.ts";
import { followFile, readLastLines } from "../client/console-log.ts";
import type { VmCall } from "../client/overview.ts";
import type { VmEntry } from "../client/vm-list.ts";

/** True when the client asked for server-sent events (`Accept: text/event-stream`). */
export function wantsEventStream(c: Context): boolean {
  return (c.req.header("accept") ?? "").includes("text/event-stream");
}

/** Write events strictly in order, though the agent's events arrive synchronously. */
function sequencer(s: SSEStreamingApi) {
  let chain: Promise<void> = Promise.resolve();
  return {
    push(event: string, data: unknown): void {
      chain = chain.then(() => (s.aborted ? undefined : s.writeSSE({ event, data: JSON.stringify(data) ?? "null" })));
    },
    done: () => chain,
  };
}

/**
 * Answer a call as events: each agent event as is (`stdout`, `stderr`, a plugin's own), then
 * `result` with the final result, or `error` with `{code, message, status}`. Data is JSON. A
 * client that goes away aborts the call (the agent kills an exec's process group when told).
 */
export function sseCall(c: Context, call: VmCall, vm: VmEntry, type: string, params: Record<string, unknown> | undefined, timeoutMs: number, onResult?: (r: unknown) => void): Response {
  return streamSSE(c, async (s) => {
    const ac = new AbortController();
    s.onAbort(() => ac.abort());
    const q = sequencer(s);
    try {
      const result = await call(vm, type, params, { timeoutMs, signal: ac.signal, onEvent: (e, d) => q.push(e, d) });
      onResult?.(result);
      q.push("result", result);
    } catch (e) {
      const f = callFailure(e, vm.name);
      q.push("error", { ...f.body(), status: f.status });
    }
    await q.done();
  });
}

/** The last `lines` lines as `line` events, then every new line; `reset` when the file is truncated or replaced. */
export function sseLogs(c: Context, path: string, lines: number, pollMs: number): Response {
  const first = readLastLines(path, lines);
  return streamSSE(c, async (s) => {
    const ac = new AbortController();
    s.onAbort(() => ac.abort());
    const send = (event: string, data: string) => (s.aborted || ac.signal.aborted ? undefined : s.writeSSE({ event, data }).catch(() => ac.abort()));
    for (const l of first.lines) await send("line", l);
    await followFile(path, {
      startAt: first.end,
      pollMs,
      signal: ac.signal,
      onLine: (l) => send("line", l),
      onReset: (reason) => send("reset", reason),
    });
  });
}
