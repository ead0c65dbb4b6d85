// Shapes of the health plugin: the integrations.d file format (zod) and the wire requests (TypeBox).

import { Type, type Static } from "@sinclair/typebox";
import type { z } from "zod";
import { lazySchema, zod, type Z } from "../../agent/lazy-zod.ts";
import { fileSecs, strictJsonSchema } from "../../agent/config.ts";
import type { RequestTable, RequestTypes } from "../../agent/plugin.ts";

/** Intervals and timeouts: whole seconds up to one day, as in every config file (agent/config.ts). */
const secs = fileSecs;
const command = (z: Z) => z.string().trim().min(1, "must not be empty");

/**
 * One integration: `<config-dir>/integrations.d/*.json`. The parsed output matches
 * `IntegrationSpec` (plugins/health/service.ts). The image builder imports this schema.
 * @example IntegrationFile.parse({ name: "web", health_cmd: "curl -sf localhost:8080/health" })
 */
export const IntegrationFile = lazySchema((z) =>
  z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1 to 64 characters from A-Z a-z 0-9 . _ -")
      .describe("Unique name; the key in health answers and console lines."),
    health_cmd: command(z).optional().describe("Shell command (/bin/sh -c); exit 0 means healthy. Absent: the integration is `unchecked`."),
    health_interval_secs: secs(30, 1).describe("Seconds from the end of one check to the start of the next."),
    health_timeout_secs: secs(10, 1).describe("A check running longer is killed (its whole process group) and counts as failed."),
    startup_grace_secs: secs(0, 0).describe("After boot, wake, or the file being added or changed: failures are reported as `starting`."),
    failure_threshold: z.number().int().min(1).max(1000).default(3).describe("Consecutive failures before `error` (3, as Docker and Kubernetes; it was 1 before)."),
    success_threshold: z.number().int().min(1).max(1000).default(1).describe("Consecutive passes before `healthy`."),
    env: z.record(z.string(), z.string()).optional().describe("Extra environment for the commands, on top of the agent's."),
    cwd: z.string().min(1).optional().describe("Working directory of the commands."),
    checkpoint_cmd: command(z).optional().describe("Run by the snapshot plugin before a snapshot."),
    restore_cmd: command(z).optional().describe("Run by the snapshot plugin after wake."),
    checkpoint_timeout_secs: secs(30, 1).describe("Deadline of checkpoint_cmd and restore_cmd."),
    critical: z.boolean().default(false).describe("A failed checkpoint makes sleep-prep answer ready: false."),
  })
  .describe("One integration of the mvm guest agent (integrations.d/*.json)"),
);

/**
 * The JSON Schema printed by `mvm-guest-agent schema integration`: strict as the loader is (no key it
 * does not name, `x-` keys aside).
 */
export function integrationJsonSchema(): unknown {
  return strictJsonSchema(zod().toJSONSchema(IntegrationFile, { io: "input" }));
}

// ---- wire ----

export const IntegrationStatus = Type.Union([
  Type.Literal("starting"),
  Type.Literal("healthy"),
  Type.Literal("error"),
  Type.Literal("pending"),
  Type.Literal("unchecked"),
  Type.Literal("paused"),
]);
export type IntegrationStatus = Static<typeof IntegrationStatus>;

/** The latest completed check of one integration. */
export const CheckResult = Type.Object(
  {
    ok: Type.Boolean(),
    exit_code: Type.Union([Type.Integer(), Type.Null()]),
    /** The signal that ended the command (`SIGKILL` after a timeout), or null. */
    signal: Type.Union([Type.String(), Type.Null()]),
    timed_out: Type.Boolean(),
    duration_ms: Type.Number({ minimum: 0 }),
    /** The last 4 KiB of stdout then stderr, trimmed. */
    output: Type.String(),
    /** When the check finished (RFC 3339 UTC). */
    checked_at: Type.String(),
  },
  { additionalProperties: false },
);
export type CheckResult = Static<typeof CheckResult>;

export const IntegrationEntry = Type.Object(
  {
    name: Type.String(),
    status: IntegrationStatus,
    /** Why: the failure for `error`, what is awaited for `starting`/`pending`, and so on. */
    detail: Type.String(),
    /** When the status last changed (RFC 3339 UTC). */
    since: Type.String(),
    consecutive_failures: Type.Integer({ minimum: 0 }),
    last: Type.Union([CheckResult, Type.Null()]),
    /** Checks of this integration that finished since the agent started (kept across reloads and wakes); absent from older agents. */
    checks_total: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Of those, the ones that failed. */
    failures_total: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type IntegrationEntry = Static<typeof IntegrationEntry>;

/** A config file a loader skipped, and why (the same record as `status.config_skipped`). */
export const SkippedFileSchema = Type.Object({ file: Type.String(), message: Type.String() }, { additionalProperties: false });

export const HealthParams = Type.Object({}, { additionalProperties: false });
export const HealthResult = Type.Object(
  {
    integrations: Type.Array(IntegrationEntry),
    /** Every integration is healthy or unchecked (true when there are none), and no file was skipped. */
    ready: Type.Boolean(),
    /** integrations.d files the latest load skipped, and why (an agent before this field omits it). */
    skipped_files: Type.Optional(Type.Array(SkippedFileSchema)),
  },
  { additionalProperties: false },
);
export type HealthResult = Static<typeof HealthResult>;

export const HealthCheckParams = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);
export const HealthCheckResult = IntegrationEntry;

/** The `health` section of the built-in `status` answer. */
export const HealthStatusSection = Type.Object(
  {
    integrations: Type.Integer({ minimum: 0 }),
    healthy: Type.Integer({ minimum: 0 }),
    starting: Type.Integer({ minimum: 0 }),
    error: Type.Integer({ minimum: 0 }),
    pending: Type.Integer({ minimum: 0 }),
    unchecked: Type.Integer({ minimum: 0 }),
    paused: Type.Integer({ minimum: 0 }),
    /** As `health`'s `ready`: false while any integrations.d file is skipped. */
    ready: Type.Boolean(),
    /** How many integrations.d files the latest load skipped (`health` lists them). */
    skipped_files: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Checks finished since the agent started, over every integration loaded now. */
    checks_total: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Of those, the ones that failed. */
    failures_total: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type HealthStatusSection = Static<typeof HealthStatusSection>;

/** The health plugin's requests (agent: plugins/health/health.ts; host: plugins/requests.ts). */
export const healthRequests = {
  health: { params: HealthParams, result: HealthResult, description: "Every integration's status and last check, and whether all are ready." },
  "health-check": {
    params: HealthCheckParams,
    result: HealthCheckResult,
    description: "Run one integration's check now (or wait for the one in flight) and return its entry.",
  },
} satisfies RequestTable;

declare module "../../agent/plugin.ts" {
  interface AgentRequests extends RequestTypes<typeof healthRequests> {}
}
