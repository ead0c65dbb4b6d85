// Wire shapes of the snapshot plugin: sleep-prep, wake and its status section (host clients import these).

import { Type, type Static } from "@sinclair/typebox";
import type { RequestTable, RequestTypes } from "../../agent/plugin.ts";

/** RFC 3339 date-time with a zone (`2026-11-28T10:57:19.123Z`, `...+02:00`). */
export const RFC3339_PATTERN = "^\\d{4}-\\d{2}-\\d{2}[Tt ]\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?([Zz]|[+-]\\d{2}:\\d{2})$";

/**
 * The guest's snapshot state, owned by this plugin and shown as the agent's state word
 * (`status.state`): `preparing` during sleep-prep, `sleeping` from its answer until wake.
 */
export const SnapshotState = Type.Union([Type.Literal("running"), Type.Literal("preparing"), Type.Literal("sleeping")]);
export type SnapshotState = Static<typeof SnapshotState>;

export const DEFAULT_DRAIN_TIMEOUT_SECS = 30;
/** Longest drain a sleep-prep may ask for (one hour). */
export const MAX_DRAIN_TIMEOUT_SECS = 3600;

export const SleepPrepParams = Type.Object(
  {
    /** Everything (pause, checkpoints, sync, drop caches) must fit in this; default 30. */
    drain_timeout_secs: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: MAX_DRAIN_TIMEOUT_SECS, default: DEFAULT_DRAIN_TIMEOUT_SECS })),
    /** Send a `step` event as each step starts and ends (the answer is the same either way). */
    stream: Type.Optional(Type.Boolean({ description: "Send a step event as each step starts and ends" })),
  },
  { additionalProperties: false },
);
export type SleepPrepParams = Static<typeof SleepPrepParams>;

/** One step of sleep-prep or wake: `checkpoint:NAME`, `sync`, `drop-caches`, `gc`, `clock`, `restore:NAME`. */
export const Step = Type.Object(
  {
    name: Type.String(),
    ok: Type.Boolean(),
    duration_ms: Type.Number({ minimum: 0 }),
    detail: Type.String(),
  },
  { additionalProperties: false },
);
export type Step = Static<typeof Step>;

/**
 * `data` of a `step` event of a streaming sleep-prep or wake: each step of the answer's `steps` is
 * sent `running` when it starts (duration 0, detail "") and `ok` or `failed` when it ends, with the
 * name, duration and detail the answer then lists. Checkpoints and restores run at once, so their
 * events interleave.
 * @example { "name": "checkpoint:db", "status": "ok", "duration_ms": 42, "detail": "exit 0" }
 */
export const StepEvent = Type.Object(
  {
    name: Type.String(),
    status: Type.Union([Type.Literal("running"), Type.Literal("ok"), Type.Literal("failed")]),
    duration_ms: Type.Number({ minimum: 0 }),
    detail: Type.String(),
  },
  { additionalProperties: false },
);
export type StepEvent = Static<typeof StepEvent>;

export const SleepPrepResult = Type.Object(
  {
    /** False when a critical integration's checkpoint failed or sync failed. */
    ready: Type.Boolean(),
    state: Type.Literal("sleeping"),
    steps: Type.Array(Step),
    duration_ms: Type.Number({ minimum: 0 }),
    /**
     * The agent's anonymous memory (heap, stacks; /proc/self/smaps_rollup), kB: when sleep-prep began, and
     * after its last step (`gc`: a full GC, freed pages handed back), which the snapshot then holds. null where
     * unreadable. Absent from agents before 0.1.1.
     */
    memory: Type.Optional(
      Type.Object(
        {
          anonymous_kb_before: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
          anonymous_kb_after: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type SleepPrepResult = Static<typeof SleepPrepResult>;

export const WakeParams = Type.Object(
  {
    /** The host's current time; the guest reports its skew and sets its clock when permitted. */
    wall_clock: Type.Optional(Type.String({ pattern: RFC3339_PATTERN, maxLength: 64 })),
    /** Send a `step` event as each step starts and ends (the answer is the same either way). */
    stream: Type.Optional(Type.Boolean({ description: "Send a step event as each step starts and ends" })),
  },
  { additionalProperties: false },
);
export type WakeParams = Static<typeof WakeParams>;

export const WakeResult = Type.Object(
  {
    /** False: no sleep-prep came before; no restore command ran and nothing was resumed. */
    was_sleeping: Type.Boolean(),
    /** Host time minus guest time when wake arrived (positive: the guest was behind); null without wall_clock. */
    clock_skew_ms: Type.Union([Type.Number(), Type.Null()]),
    clock_set: Type.Boolean(),
    /**
     * Why the clock was not set, or null when it was: `no_wall_clock` (none given), `not_in_vm` (the
     * agent serves only unix sockets and --set-clock was not given), `no_set_clock` (--no-set-clock),
     * `failed` (clock_settime refused; the clock step says why). Absent from agents before 0.1.1.
     */
    clock_not_set: Type.Optional(
      Type.Union([Type.Null(), Type.Literal("no_wall_clock"), Type.Literal("not_in_vm"), Type.Literal("no_set_clock"), Type.Literal("failed")]),
    ),
    steps: Type.Array(Step),
    duration_ms: Type.Number({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type WakeResult = Static<typeof WakeResult>;
export type ClockNotSet = NonNullable<WakeResult["clock_not_set"]>;

/** The `snapshot` section of the built-in `status` answer. */
export const SnapshotStatus = Type.Object(
  {
    state: SnapshotState,
    /** The operation running now, if any. */
    busy: Type.Union([Type.Literal("sleep-prep"), Type.Literal("wake"), Type.Null()]),
    last_sleep_prep: Type.Union([
      Type.Object({ at: Type.String(), result: SleepPrepResult }, { additionalProperties: false }),
      Type.Null(),
    ]),
    last_wake: Type.Union([
      Type.Object(
        {
          at: Type.String(),
          reason: Type.Union([Type.Literal("wake"), Type.Literal("watchdog")]),
          result: WakeResult,
        },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
    /** Sleep-preps run since the agent started (a repeated answer while sleeping is not counted); absent from older agents. */
    sleep_preps_total: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Of those, the ones that answered `ready: false` or failed. */
    sleep_prep_failures_total: Type.Optional(Type.Integer({ minimum: 0 })),
    watchdog: Type.Object(
      {
        /** 0: the watchdog is off. */
        resume_after_secs: Type.Number({ minimum: 0 }),
        armed: Type.Boolean(),
        /** Guest run time left before the watchdog resumes on its own; null when not armed. */
        fires_in_secs: Type.Union([Type.Number(), Type.Null()]),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type SnapshotStatus = Static<typeof SnapshotStatus>;

/** The snapshot plugin's requests (agent: plugins/snapshot/snapshot.ts; host: plugins/requests.ts). */
export const snapshotRequests = {
  "sleep-prep": {
    params: SleepPrepParams,
    result: SleepPrepResult,
    description: "Before a snapshot: pause schedules, run checkpoints, sync, drop the page cache; answers ready.",
    deadlineParam: "drain_timeout_secs",
    events: { step: StepEvent },
  },
  wake: {
    params: WakeParams,
    result: WakeResult,
    description: "After a restore: set the clock, run restore commands, restart grace, resume every schedule.",
    // Restore commands run one after another, each under its integration's checkpoint_timeout_secs.
    timeoutSecs: 60,
    events: { step: StepEvent },
  },
} satisfies RequestTable;

declare module "../../agent/plugin.ts" {
  interface AgentRequests extends RequestTypes<typeof snapshotRequests> {}

  /** The events this plugin emits; other plugins listen (health and probes pause and start over). */
  interface AgentEvents {
    /** sleep-prep started: every schedule is about to pause. */
    "sleep-prep": { at: number };
    /** Running again after a snapshot was restored (wake), or the watchdog gave up on the host. */
    wake: { at: number; reason: "wake" | "watchdog" };
  }
}
