// Probe shapes: the probes.d file format (zod) and the `probes` / `probe-run` wire shapes (TypeBox).

import { Type, type Static } from "@sinclair/typebox";
import type { z } from "zod";
import { lazySchema, zod } from "../../agent/lazy-zod.ts";
import { fileSecs, strictJsonSchema } from "../../agent/config.ts";
import type { RequestTable, RequestTypes } from "../../agent/plugin.ts";

export const PROBE_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export const OUTPUT_FORMATS = ["auto", "text", "number", "json", "exit_code"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * One `<config-dir>/probes.d/*.json` file. `cmd` (the original agent's key) is turned into
 * `command` before this schema sees the file; a `cmd` left here means both were given and differ.
 * @example ProbeFile.parse({ name: "disk-usage", command: "df --output=pcent / | tail -1", unit: "percent" })
 */
export const ProbeFile = lazySchema((z) =>
  z.object({
  name: z
    .string()
    .regex(PROBE_NAME_PATTERN, { error: "must be 1 to 64 characters of A-Z a-z 0-9 . _ -" })
    .describe("Unique name of the probe"),
  command: z
    .string({ error: (iss) => (iss.input === undefined ? "required (or its alias cmd)" : "must be a string") })
    .trim().min(1, { error: "must not be empty" }).describe("Shell command (/bin/sh -c) whose stdout is the value; alias: cmd"),
  cmd: z
    .never({ error: "both command and its alias cmd are given, with different commands; keep one" })
    .optional()
    .describe("Alias of command (the original agent's key)"),
  interval_secs: fileSecs(60).describe("Seconds between the end of one run and the start of the next (whole seconds, 1 to 86400)"),
  timeout_secs: fileSecs(10).describe("The run's process group is killed after this long (whole seconds, 1 to 86400)"),
  output_format: z.enum(OUTPUT_FORMATS).default("auto").describe("How stdout becomes the value"),
  unit: z.string().min(1).max(32).optional().describe("Unit of the value, for display (percent, bytes, ms)"),
  description: z.string().max(1000).optional().describe("What the probe measures"),
  }),
);
export type ProbeFile = z.output<typeof ProbeFile>;

/**
 * Map the `cmd` alias onto `command` (loadDropins' `prepare`). When both are given and equal,
 * `cmd` is dropped; when they differ, `cmd` stays so that the schema names the conflict.
 */
export function prepareProbe(raw: Record<string, unknown>): Record<string, unknown> {
  if (!("cmd" in raw)) return raw;
  const { cmd, ...rest } = raw;
  if (!("command" in rest)) return { ...rest, command: cmd };
  return rest.command === cmd ? rest : raw;
}

/** How probes.d files are checked (the loader, `config check` and `config render` share it). */
export const PROBE_FORMAT = {
  schema: ProbeFile,
  prepare: prepareProbe,
  /** Other tools' names, named in the error when no key of ours is near. */
  hints: { test: "command", exec: "command", format: "output_format", period: "interval_secs", periodSeconds: "interval_secs" } as Record<string, string>,
};

/** JSON Schema of a probe file (`mvm-guest-agent schema probe`): `command` or its alias `cmd`. */
export function probeJsonSchema(): Record<string, unknown> {
  const s = strictJsonSchema(zod().toJSONSchema(ProbeFile, { io: "input", unrepresentable: "any" }) as Record<string, any>);
  s.title = "mvm-guest-agent probe (probes.d/*.json)";
  s.properties.cmd = { type: "string", minLength: 1, description: "Alias of command (the original agent's key); give one of the two" };
  s.required = (s.required as string[]).filter((k) => k !== "command");
  s.anyOf = [{ required: ["command"] }, { required: ["cmd"] }];
  return s;
}

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

/** The latest result of one probe (every loaded probe is listed; before its first run most fields are null). */
export const ProbeResult = Type.Object(
  {
    name: Type.String(),
    /** null until the first run. */
    ok: Type.Union([Type.Boolean(), Type.Null()]),
    /** The parsed value (any JSON value), or null. */
    value: Type.Unknown(),
    /** Trimmed stdout, at most 4 KiB. */
    output: Nullable(Type.String()),
    unit: Nullable(Type.String()),
    /** Why the run failed (or a note such as truncated output); null when there is nothing to say. */
    detail: Nullable(Type.String()),
    exit_code: Type.Union([Type.Integer(), Type.Null()]),
    timed_out: Type.Boolean(),
    duration_ms: Type.Union([Type.Number(), Type.Null()]),
    /** RFC 3339 UTC time the run finished; null until the first run. */
    checked_at: Nullable(Type.String()),
    /** The result is older than 2 x interval_secs, or was taken before the last wake. */
    stale: Type.Boolean(),
    /** Runs of this probe that finished since the agent started (kept across reloads and wakes); absent from older agents. */
    runs_total: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Of those, the failed ones. */
    failures_total: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type ProbeResult = Static<typeof ProbeResult>;

export const ProbesParams = Type.Object({}, { additionalProperties: false });
export const ProbesResult = Type.Object(
  {
    probes: Type.Array(ProbeResult),
    /** probes.d files the latest load skipped, and why (an agent before this field omits it). */
    skipped_files: Type.Optional(Type.Array(Type.Object({ file: Type.String(), message: Type.String() }, { additionalProperties: false }))),
  },
  { additionalProperties: false },
);
export type ProbesResult = Static<typeof ProbesResult>;

export const ProbeRunParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
export type ProbeRunParams = Static<typeof ProbeRunParams>;
export const ProbeRunResult = ProbeResult;

/** The probes plugin's requests (agent: plugins/probes/index.ts; host: plugins/requests.ts). */
export const probesRequests = {
  probes: { params: ProbesParams, result: ProbesResult, description: "The latest result of every loaded probe (value null until its first run)." },
  "probe-run": { params: ProbeRunParams, result: ProbeRunResult, description: "Run one probe now (or wait for its run in flight) and answer its result." },
} satisfies RequestTable;

declare module "../../agent/plugin.ts" {
  interface AgentRequests extends RequestTypes<typeof probesRequests> {}
}
