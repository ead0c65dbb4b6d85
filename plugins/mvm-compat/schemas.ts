// Wire shapes of the mvm dialect (the original agent's PascalCase frames): request payloads and answers (TypeBox).

import { Type, type Static, type TSchema } from "@sinclair/typebox";

/** The original host's frame cap (256 KiB); every answer in this dialect fits it. */
export const MVM_MAX_FRAME_BYTES = 262_144;

/** The protocol version range this agent speaks in the mvm dialect (the original's [1, 1]). */
export const MVM_PROTOCOL_VERSION = 1;
export const MVM_MIN_PROTOCOL_VERSION = 1;

/**
 * The capabilities this agent grants in `ProtocolHelloAck`: only those whose verbs it serves
 * (the rest, e.g. `filesystem_rpc`, would be answered `unsupported request`). Hosts call
 * `require_capabilities` and fail locally, which is the clear failure we want.
 */
export const MVM_SUPPORTED_CAPABILITIES: readonly string[] = ["ping", "integration_status"];

const U32 = Type.Integer({ minimum: 0, maximum: 4_294_967_295 });
const U64 = Type.Integer({ minimum: 0 });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const strict = { additionalProperties: false } as const;

// ---- request payloads (the original uses deny_unknown_fields: unknown keys are refused) ----

export const ProtocolHelloPayload = Type.Object(
  {
    host_protocol_version: U32,
    min_supported_version: U32,
    host_version: Type.String(),
    requested_capabilities: Type.Array(Type.String()),
  },
  strict,
);
export type ProtocolHelloPayload = Static<typeof ProtocolHelloPayload>;

export const SleepPrepPayload = Type.Object({ drain_timeout_secs: U64 }, strict);
export type SleepPrepPayload = Static<typeof SleepPrepPayload>;

export const CheckpointIntegrationsPayload = Type.Object({ integrations: Type.Array(Type.String()) }, strict);
export type CheckpointIntegrationsPayload = Static<typeof CheckpointIntegrationsPayload>;

/** `Exec`: `stdin` is text here (not a byte array); `timeout_secs` null or absent means 30. */
export const ExecPayload = Type.Object(
  {
    command: Type.String(),
    stdin: Type.Optional(Nullable(Type.String())),
    timeout_secs: Type.Optional(Nullable(U64)),
  },
  strict,
);
export type ExecPayload = Static<typeof ExecPayload>;

/** Verbs without fields: sent as a bare string (`"Ping"`), or `{"Ping":null}`. */
export const UNIT_VERBS = ["Ping", "WorkerStatus", "Wake", "PostRestore", "IntegrationStatus", "ProbeStatus", "FsDiff"] as const;
export type UnitVerb = (typeof UNIT_VERBS)[number];

/** Verbs with fields, and the schema of their payload. */
export const STRUCT_VERBS = {
  ProtocolHello: ProtocolHelloPayload,
  SleepPrep: SleepPrepPayload,
  CheckpointIntegrations: CheckpointIntegrationsPayload,
  Exec: ExecPayload,
} as const;
export type StructVerb = keyof typeof STRUCT_VERBS;

/** A payload example per struct verb, for error messages. */
export const STRUCT_EXAMPLES: Record<StructVerb, string> = {
  ProtocolHello:
    '{"ProtocolHello":{"host_protocol_version":1,"min_supported_version":1,"host_version":"0.14.0","requested_capabilities":["ping"]}}',
  SleepPrep: '{"SleepPrep":{"drain_timeout_secs":30}}',
  CheckpointIntegrations: '{"CheckpointIntegrations":{"integrations":["db"]}}',
  Exec: '{"Exec":{"command":"uname -a","stdin":null,"timeout_secs":10}}',
};

// ---- answers ----

export const Pong = Type.Literal("Pong");

export const ProtocolHelloAck = Type.Object(
  {
    ProtocolHelloAck: Type.Object(
      { agent_protocol_version: U32, min_supported_version: U32, agent_version: Type.String(), capabilities: Type.Array(Type.String()) },
      strict,
    ),
  },
  strict,
);

export const ProtocolUpgradeAction = Type.Union([Type.Literal("upgrade_host"), Type.Literal("rebuild_guest"), Type.Literal("downgrade_host")]);

export const ProtocolMismatch = Type.Object(
  {
    ProtocolMismatch: Type.Object(
      { host_protocol_version: U32, agent_protocol_version: U32, required_action: ProtocolUpgradeAction, message: Type.String() },
      strict,
    ),
  },
  strict,
);

/** `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds), the original's timestamp format. */
export const MVM_TIME_PATTERN = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$";
const Time = Type.String({ pattern: MVM_TIME_PATTERN });

export const WorkerStatusAnswer = Type.Object(
  {
    WorkerStatus: Type.Object(
      { status: Type.Union([Type.Literal("idle"), Type.Literal("busy"), Type.Literal("unknown")]), last_busy_at: Nullable(Time) },
      strict,
    ),
  },
  strict,
);

export const SleepPrepAck = Type.Object({ SleepPrepAck: Type.Object({ success: Type.Boolean(), detail: Type.String() }, strict) }, strict);
export const WakeAck = Type.Object({ WakeAck: Type.Object({ success: Type.Boolean() }, strict) }, strict);
export const PostRestoreAck = Type.Object({ PostRestoreAck: Type.Object({ success: Type.Boolean(), detail: Type.String() }, strict) }, strict);

export const CheckpointResult = Type.Object(
  {
    CheckpointResult: Type.Object(
      { success: Type.Boolean(), failed: Type.Array(Type.String()), detail: Nullable(Type.String()) },
      strict,
    ),
  },
  strict,
);

/** `IntegrationStatus` values: `active`, `starting`, `pending`, `paused`, or `{"error":"<detail>"}`. */
export const MvmIntegrationStatus = Type.Union([
  Type.Literal("active"),
  Type.Literal("starting"),
  Type.Literal("pending"),
  Type.Literal("paused"),
  Type.Object({ error: Type.String() }, strict),
]);
export type MvmIntegrationStatus = Static<typeof MvmIntegrationStatus>;

export const MvmHealthResult = Type.Object({ healthy: Type.Boolean(), detail: Type.String(), checked_at: Time }, strict);

export const MvmIntegrationReport = Type.Object(
  {
    name: Type.String(),
    status: MvmIntegrationStatus,
    last_checkpoint_at: Nullable(Time),
    state_size_bytes: U64,
    health: Nullable(MvmHealthResult),
  },
  strict,
);
export type MvmIntegrationReport = Static<typeof MvmIntegrationReport>;

export const IntegrationStatusReport = Type.Object(
  { IntegrationStatusReport: Type.Object({ integrations: Type.Array(MvmIntegrationReport) }, strict) },
  strict,
);

/** One probe; `output` (any JSON value) is left out when there is none. */
export const MvmProbeResult = Type.Object(
  { name: Type.String(), healthy: Type.Boolean(), detail: Type.String(), output: Type.Optional(Type.Unknown()), checked_at: Time },
  strict,
);
export type MvmProbeResult = Static<typeof MvmProbeResult>;

export const ProbeStatusReport = Type.Object({ ProbeStatusReport: Type.Object({ probes: Type.Array(MvmProbeResult) }, strict) }, strict);

export const MvmFsChange = Type.Object(
  {
    path: Type.String(),
    kind: Type.Union([Type.Literal("created"), Type.Literal("modified"), Type.Literal("deleted")]),
    size: U64,
  },
  strict,
);
export type MvmFsChange = Static<typeof MvmFsChange>;

export const FsDiffAnswer = Type.Object({ FsDiffResult: Type.Object({ changes: Type.Array(MvmFsChange) }, strict) }, strict);

export const ExecAnswer = Type.Object(
  { ExecResult: Type.Object({ exit_code: Type.Integer(), stdout: Type.String(), stderr: Type.String() }, strict) },
  strict,
);

export const MvmError = Type.Object({ Error: Type.Object({ message: Type.String() }, strict) }, strict);
export type MvmError = Static<typeof MvmError>;

/** Every answer this dialect writes. */
export const MvmAnswer = Type.Union([
  Pong,
  ProtocolHelloAck,
  ProtocolMismatch,
  WorkerStatusAnswer,
  SleepPrepAck,
  WakeAck,
  PostRestoreAck,
  CheckpointResult,
  IntegrationStatusReport,
  ProbeStatusReport,
  FsDiffAnswer,
  ExecAnswer,
  MvmError,
]);
export type MvmAnswer = Static<typeof MvmAnswer>;
