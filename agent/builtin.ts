// The requests the core serves itself: ping, hello, status.

import { rfc3339 } from "./clock.ts";
import type { Agent } from "./agent.ts";
import { defineRequests, type AgentPlugin } from "./plugin.ts";
import { coreRequests, PROTOCOL_VERSION } from "./wire.ts";

export const AGENT_NAME = "mvm-guest-agent";

/** Plugin `core`: built into every agent. `agent()` is read lazily, after createAgent returns. */
export function builtinPlugin(agent: () => Agent): AgentPlugin {
  return {
    name: "core",
    requests: defineRequests(coreRequests, {
      ping: () => ({}),
      hello: () => {
        const a = agent();
        return {
          agent: AGENT_NAME,
          version: a.config.version,
          protocol: PROTOCOL_VERSION,
          build: a.config.build,
          requests: a.router.names(),
          plugins: a.plugins.map((p) => p.name).filter((n) => n !== "core"),
          max_frame_bytes: a.config.maxFrameBytes,
        };
      },
      status: () => {
        const a = agent();
        const bp = a.backpressure();
        const plugins: Record<string, unknown> = {};
        for (const p of a.plugins) {
          if (!p.status) continue;
          try {
            plugins[p.name] = p.status() ?? null;
          } catch (e) {
            a.log.error(`status of plugin ${p.name} failed: ${(e as Error)?.message ?? e}`);
            plugins[p.name] = { error: "status unavailable" };
          }
        }
        return {
          agent: AGENT_NAME,
          version: a.config.version,
          build: a.config.build,
          pid: process.pid,
          started_at: rfc3339(a.startedAt),
          uptime_secs: Math.round((a.clock.now() - a.startedAt) / 10) / 100,
          state: a.state,
          connections: a.connections(),
          connections_backed_up: bp.backedUp,
          unsent_bytes: bp.unsentBytes,
          work_in_flight: a.workInFlight(),
          plugins,
          config_refused: a.config.files?.list() ?? [],
        };
      },
    }),
  };
}

