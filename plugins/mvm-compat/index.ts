// The mvm-compat plugin: the original mvm agent's wire dialect on our sockets, mapped onto the native requests.

import { bodyLength } from "../../agent/frame.ts";
import type { AgentPlugin, Dialect, DialectReply, PluginContext, PluginModule } from "../../agent/plugin.ts";
import { mvmError, type VerbDeps } from "./context.ts";
import { decodeMvm, isMvmBody } from "./decode.ts";
import { execVerb, fsDiffVerb } from "./devtools.ts";
import { HELLO_KEY, hello } from "./hello.ts";
import { checkpointIntegrations, postRestore, sleepPrep, wake } from "./lifecycle.ts";
import { integrationStatus, probeStatus, workerStatus } from "./reports.ts";
import { MVM_MAX_FRAME_BYTES } from "./schemas.ts";

export { isMvmBody, decodeMvm } from "./decode.ts";
export { MVM_MAX_FRAME_BYTES } from "./schemas.ts";

export interface MvmCompatOptions {
  /** Cap of one answer in this dialect (default 262144, the original host's cap). */
  maxFrameBytes?: number;
}

/**
 * Speaks the original mvm agent's frames (`"Ping"`, `{"SleepPrep":{...}}`) on the agent's sockets.
 * Every verb is answered by calling the native request that owns the capability.
 * @example createAgent({ plugins: [healthPlugin(...), snapshotPlugin(), mvmCompatPlugin()] })
 */
export function mvmCompatPlugin(opts: MvmCompatOptions = {}): AgentPlugin {
  const maxFrameBytes = opts.maxFrameBytes ?? MVM_MAX_FRAME_BYTES;
  const checkpoints = new Map<string, number>();
  let stopper = new AbortController();
  /** Frames answered, refused (unknown or malformed), and served on a connection without an acknowledged hello. */
  const counts = { answered: 0, refused: 0, without_hello: 0, by_verb: {} as Record<string, number> };

  async function answer(c: PluginContext, body: unknown, conn: Map<string, unknown>, signal: AbortSignal): Promise<unknown> {
    const req = decodeMvm(body);
    if (!req.ok) {
      counts.refused++;
      c.log.info(`refused an mvm frame: ${req.message}`);
      return mvmError(req.message);
    }
    counts.answered++;
    counts.by_verb[req.verb] = (counts.by_verb[req.verb] ?? 0) + 1;
    if (req.verb !== "ProtocolHello" && conn.get(HELLO_KEY) !== "ack") counts.without_hello++;
    const d: VerbDeps = { ctx: c, maxFrameBytes, conn, signal, stopping: stopper.signal, checkpoints };
    switch (req.verb) {
      case "Ping":
        return "Pong";
      case "ProtocolHello":
        return hello(d, req.payload);
      case "WorkerStatus":
        return workerStatus(d);
      case "SleepPrep":
        return sleepPrep(d, req.payload);
      case "Wake":
        return wake(d);
      case "PostRestore":
        return postRestore(d);
      case "CheckpointIntegrations":
        return checkpointIntegrations(d, req.payload);
      case "IntegrationStatus":
        return integrationStatus(d);
      case "ProbeStatus":
        return probeStatus(d);
      case "FsDiff":
        return fsDiffVerb(d);
      case "Exec":
        return execVerb(d, req.payload);
      default: {
        const unreachable: never = req;
        return mvmError(`unsupported request: ${String((unreachable as { verb: unknown }).verb)}`);
      }
    }
  }

  const dialect: Dialect = {
    name: "mvm",
    maxFrameBytes,
    matches: isMvmBody,
    refuse: (message) => mvmError(message),
    async handle(body, io): Promise<DialectReply> {
      const log = io.plugin.log;
      let reply: unknown;
      try {
        reply = await answer(io.plugin, body, io.conn, io.signal);
      } catch (e) {
        log.error(`mvm frame failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        reply = mvmError("internal error (the agent's console has the detail)");
      }
      const size = bodyLength(reply);
      if (size > maxFrameBytes) {
        log.error(`an mvm answer of ${size} bytes is over the dialect's frame cap of ${maxFrameBytes} bytes; answering Error instead`);
        reply = mvmError(`the answer (${size} bytes) is over the ${maxFrameBytes}-byte frame cap of the mvm dialect; use the native request, which pages`);
      }
      return { body: reply };
    },
  };

  return {
    name: "mvm-compat",
    dialects: [dialect],
    start() {
      stopper = new AbortController();
    },
    stop() {
      stopper.abort();
    },
    status: () => ({ max_frame_bytes: maxFrameBytes, ...counts, by_verb: { ...counts.by_verb } }),
  };
}

/** The module main and the build list: no flags; `create` always returns the plugin. */
export const mvmCompatModule: PluginModule = {
  name: "mvm-compat",
  create: () => mvmCompatPlugin(),
};
