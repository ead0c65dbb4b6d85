// Wire shapes shared by the agent and host clients: the envelope, answers, and built-in requests.

import { Type, type Static } from "@sinclair/typebox";
import type { RequestTable } from "./requests.ts";

export const PROTOCOL_VERSION = 1;

/** Request names: kebab-case, optionally namespaced with dots (`acme.flush`). */
export const RequestType = Type.String({ pattern: "^[a-z0-9][a-z0-9._-]{0,127}$" });
export const RequestId = Type.Union([
  Type.String({ maxLength: 128 }),
  Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }),
]);

export const Envelope = Type.Object(
  {
    type: RequestType,
    id: Type.Optional(RequestId),
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
export type Envelope = Static<typeof Envelope>;

export const WireError = Type.Object({
  code: Type.String(),
  message: Type.String(),
  data: Type.Optional(Type.Unknown()),
});
export type WireError = Static<typeof WireError>;

export type Answer =
  | { id?: string | number; type?: string; ok: true; result: unknown }
  | { id?: string | number; type?: string; ok: false; error: WireError };
export type EventFrame = { id?: string | number; type: string; event: string; data: unknown };

const NoParams = Type.Object({}, { additionalProperties: false });

export const PingParams = NoParams;
export const PingResult = Type.Object({}, { additionalProperties: false });

export const HelloParams = NoParams;
export const HelloResult = Type.Object(
  {
    agent: Type.String(),
    version: Type.String(),
    protocol: Type.Integer(),
    build: Type.Union([Type.Literal("prod"), Type.Literal("dev")]),
    requests: Type.Array(Type.String()),
    plugins: Type.Array(Type.String()),
    max_frame_bytes: Type.Integer(),
  },
  { additionalProperties: false },
);
export type HelloResult = Static<typeof HelloResult>;

/** What an agent state word (`status.state`) may look like: lowercase, at most 32 characters. */
export const AGENT_STATE_PATTERN = "^[a-z][a-z0-9-]{0,31}$";

export const StatusParams = NoParams;
export const StatusResult = Type.Object(
  {
    agent: Type.String(),
    version: Type.String(),
    build: Type.Union([Type.Literal("prod"), Type.Literal("dev")]),
    pid: Type.Integer(),
    started_at: Type.String(),
    uptime_secs: Type.Number(),
    /** `running`, or the word of the plugin that holds the agent (the snapshot plugin: `preparing`, `sleeping`). */
    state: Type.String({ pattern: AGENT_STATE_PATTERN }),
    connections: Type.Integer(),
    /** Connections not being read because their client left over 4 MiB of answers unread (backpressure). */
    connections_backed_up: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Bytes of answers and events queued for clients, over every connection. */
    unsent_bytes: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Bytes of requests read but not started, over every connection (one stops being read past 4 MiB). */
    queued_bytes: Type.Optional(Type.Integer({ minimum: 0 })),
    work_in_flight: Type.Integer(),
    plugins: Type.Record(Type.String(), Type.Unknown()),
    /** Config files (or directories) the latest loads refused unread, and why: also one console line each. */
    config_refused: Type.Optional(Type.Array(Type.Object({ file: Type.String(), reason: Type.String() }, { additionalProperties: false }))),
    /**
     * Every config file the latest loads skipped (agent.json, integrations.d, probes.d), and why: the
     * refused ones (message `refused: REASON`) and those that are not JSON, hold an unknown key or fail
     * their schema. `health` and `probes` list their own directory's.
     */
    /**
     * Wire requests answered since start, by type: `served`, and `failed` (answered with an error). Types
     * no plugin serves (and bad envelopes) are counted under `(unknown)`, a dialect's frames under
     * `dialect:NAME`, so the keys are bounded by what the agent serves. Absent from older agents.
     */
    requests: Type.Optional(
      Type.Record(Type.String(), Type.Object({ served: Type.Integer({ minimum: 0 }), failed: Type.Integer({ minimum: 0 }) }, { additionalProperties: false })),
    ),
    config_skipped: Type.Optional(Type.Array(Type.Object({ file: Type.String(), message: Type.String() }, { additionalProperties: false }))),
  },
  { additionalProperties: false },
);
export type StatusResult = Static<typeof StatusResult>;

/** A JSON Schema as the agent sends it (plain JSON: TypeBox's own symbol keys dropped). */
const JsonSchema = Type.Record(Type.String(), Type.Unknown(), { description: "JSON Schema (draft 2020-12 compatible)" });

export const DescribeParams = Type.Object(
  {
    /** Only these requests (absent: every one). Names the agent does not serve are left out of the answer. */
    types: Type.Optional(Type.Array(RequestType, { maxItems: 256 })),
  },
  { additionalProperties: false },
);

/** One served request as `describe` gives it: its declaration, as JSON. */
export const DescribedRequest = Type.Object(
  {
    type: RequestType,
    /** The plugin that serves it (`core` for ping, hello, status and describe). */
    plugin: Type.String(),
    description: Type.String(),
    params: JsonSchema,
    result: JsonSchema,
    /** Events a streaming call sends before its answer, by name: the JSON Schema of their `data`. */
    events: Type.Optional(Type.Record(Type.String(), JsonSchema)),
    /** The params field whose seconds bound the work (its schema gives the default and the maximum). */
    deadline_param: Type.Optional(Type.String()),
    /** How long the work may take when no param bounds it. */
    timeout_secs: Type.Optional(Type.Number({ minimum: 0 })),
    /** Seconds the work may take when the caller leaves the deadline param out (absent: an answer comes at once). */
    deadline_secs: Type.Optional(Type.Number({ minimum: 0 })),
    /** While it runs the worker counts as busy. */
    work: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type DescribedRequest = Static<typeof DescribedRequest>;

export const DescribeResult = Type.Object(
  {
    agent: Type.String(),
    version: Type.String(),
    protocol: Type.Integer(),
    build: Type.Union([Type.Literal("prod"), Type.Literal("dev")]),
    /** Every request served (or those asked for), sorted by name. */
    requests: Type.Array(DescribedRequest),
  },
  { additionalProperties: false },
);
export type DescribeResult = Static<typeof DescribeResult>;

/** The requests the core serves itself (agent/builtin.ts), declared as plugins declare theirs. */
export const coreRequests = {
  ping: { params: PingParams, result: PingResult, description: "Liveness: answers {} at once." },
  hello: { params: HelloParams, result: HelloResult, description: "Identity, protocol version, build, requests and plugins." },
  status: { params: StatusParams, result: StatusResult, description: "Identity, uptime, the agent's state word and one section per plugin." },
  describe: {
    params: DescribeParams,
    result: DescribeResult,
    description: "Every served request with its plugin, description, JSON Schemas of params, result and events, and its deadline.",
  },
} satisfies RequestTable;
