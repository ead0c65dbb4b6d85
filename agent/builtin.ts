// The requests the core serves itself: ping, hello, status, describe.

import { rfc3339, type Clock } from "./clock.ts";
import { describeRequest } from "./describe.ts";
import { defineRequests, type AgentConfig, type AgentPlugin, type RequestSpec } from "./plugin.ts";
import { listedSkipped } from "./config-file.ts";
import type { Backpressure } from "./sessions.ts";
import { coreRequests, PROTOCOL_VERSION } from "./wire.ts";

export const AGENT_NAME = "mvm-guest-agent";

/** What the core's requests read of the agent (agent.ts wires it; read at request time). */
export interface CoreView {
  readonly config: AgentConfig;
  readonly clock: Clock;
  /** Wall-clock ms when the agent was created. */
  readonly startedAt: number;
  /** The agent's state word (`status.state`). */
  state(): string;
  requestNames(): string[];
  /** Every request served, sorted by name, with its plugin and spec. */
  requestEntries(): { type: string; plugin: string; spec: RequestSpec }[];
  /** Every plugin but the core. */
  pluginNames(): string[];
  /** One section per running plugin that has a `status` hook. */
  statusSections(): Record<string, unknown>;
  connections(): number;
  backpressure(): Backpressure;
  workInFlight(): number;
  /** Wire requests answered so far, by type (the router's counters). */
  requestCounts(): Record<string, { served: number; failed: number }>;
}

/** Plugin `core`: built into every agent. */
export function builtinPlugin(a: CoreView): AgentPlugin {
  return {
    name: "core",
    requests: defineRequests(coreRequests, {
      ping: () => ({}),
      hello: () => ({
        agent: AGENT_NAME,
        version: a.config.version,
        protocol: PROTOCOL_VERSION,
        build: a.config.build,
        requests: a.requestNames(),
        plugins: a.pluginNames(),
        max_frame_bytes: a.config.maxFrameBytes,
      }),
      status: () => {
        const bp = a.backpressure();
        return {
          agent: AGENT_NAME,
          version: a.config.version,
          build: a.config.build,
          pid: process.pid,
          started_at: rfc3339(a.startedAt),
          uptime_secs: Math.round((a.clock.now() - a.startedAt) / 10) / 100,
          state: a.state(),
          connections: a.connections(),
          connections_backed_up: bp.backedUp,
          unsent_bytes: bp.unsentBytes,
          queued_bytes: bp.queuedBytes,
          work_in_flight: a.workInFlight(),
          requests: a.requestCounts(),
          plugins: a.statusSections(),
          config_refused: a.config.files?.list() ?? [],
          config_skipped: listedSkipped(a.config.files?.skipped() ?? []),
        };
      },
      describe: ({ types }) => {
        const wanted = types ? new Set(types) : undefined;
        return {
          agent: AGENT_NAME,
          version: a.config.version,
          protocol: PROTOCOL_VERSION,
          build: a.config.build,
          requests: a
            .requestEntries()
            .filter((e) => !wanted || wanted.has(e.type))
            .map((e) => describeRequest(e.type, e.plugin, e.spec)),
        };
      },
    }),
  };
}
