// The bridge's route table: method, path, inputs and answers as TypeBox schemas (validation and /openapi.json read it).

import { Type, type TSchema } from "@sinclair/typebox";
import { z } from "zod";
import { RequestType, StatusResult } from "../../agent/wire.ts";
import { WakeResult } from "../../plugins/snapshot/schemas.ts";
import { FleetSummarySchema } from "../client/fleet.ts";
import { RELATIVE_DIR_PATTERN } from "../client/snapshot/dir.ts";
import { ManifestSchema, type Manifest } from "../client/snapshot/manifest.ts";
import { BUNDLED_REQUESTS, type BundledRequestName } from "../../plugins/requests.ts";

const Strict = { additionalProperties: false } as const;

export const ErrorBody = Type.Object(
  {
    code: Type.String({ description: "E_NOT_FOUND (unknown VM), E_INVALID_PARAMS, E_TIMEOUT, E_UNAUTHORIZED, or the agent's / client's code" }),
    message: Type.String(),
    data: Type.Optional(Type.Unknown()),
  },
  Strict,
);

const VmName = Type.String({ minLength: 1, maxLength: 128, description: "The VM's name in vms.json" });

const VmStatus = Type.Object(
  {
    name: Type.String(),
    agent: Type.String(),
    labels: Type.Record(Type.String(), Type.String()),
    status: StatusResult,
  },
  Strict,
);

export const DiffQuery = BUNDLED_REQUESTS["fs-diff"].params;

export const LogsQuery = Type.Object(
  {
    lines: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000, default: 100, description: "last N lines (default 100)" })),
    follow: Type.Optional(Type.Boolean({ description: "1/true: keep the answer open as server-sent `line` events" })),
  },
  Strict,
);

const LogsResult = Type.Object({ name: Type.String(), path: Type.String(), lines: Type.Array(Type.String()) }, Strict);

export const MetricsQuery = Type.Object(
  {
    vm: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: "Only this VM's series, without its vm and vms.json labels (the target of /api/sd, where Prometheus adds them)" })),
    bridge: Type.Optional(Type.Boolean({ description: "1/true: only the bridge's own families (no agent is asked): the job beside the /api/sd one" })),
  },
  Strict,
);

export const StreamQuery = Type.Object(
  { stream: Type.Optional(Type.Boolean({ description: "1/true: answer as server-sent events (also: Accept: text/event-stream)" })) },
  Strict,
);

export const SleepPrepBody = BUNDLED_REQUESTS["sleep-prep"].params;

const { wall_clock: wallClock } = BUNDLED_REQUESTS.wake.params.properties;

/** The agent's wake params, except that `wall_clock: null` asks the bridge not to send its time. */
export const WakeBody = Type.Object(
  {
    wall_clock: Type.Optional(
      Type.Union([Type.String({ pattern: wallClock.pattern, maxLength: wallClock.maxLength }), Type.Null()], {
        description: "RFC 3339 time to set in the guest; absent = the host's time now; null = do not send a time",
      }),
    ),
  },
  Strict,
);

export const ExecBody = BUNDLED_REQUESTS.exec.params;

const SnapshotName = (what: string) =>
  Type.String({
    pattern: RELATIVE_DIR_PATTERN,
    maxLength: 1100,
    description: `${what}, relative to the bridge's --snapshot-dir: 1 to 8 segments of A-Z a-z 0-9 . _ - separated by /, each starting with a letter or digit (no .., no absolute path, no symlinks on the way)`,
  });

export const SnapshotBody = Type.Object(
  {
    to: SnapshotName("The directory to write the snapshot to"),
    resume: Type.Optional(Type.Boolean({ description: "Afterwards, let the VM run again and wake its agent (the default)" })),
    stop: Type.Optional(Type.Boolean({ description: "Afterwards, leave the VM paused" })),
    overwrite: Type.Optional(Type.Boolean({ description: "Replace a snapshot the directory holds (409 E_EXISTS otherwise)" })),
    drain_timeout_secs: BUNDLED_REQUESTS["sleep-prep"].params.properties.drain_timeout_secs,
  },
  Strict,
);

export const RestoreBody = Type.Object(
  {
    from: SnapshotName("The snapshot directory (holding manifest.json)"),
    other_vm: Type.Optional(Type.Boolean({ description: "Load a snapshot taken of another VM (a clone)" })),
  },
  Strict,
);

const LoopStep = Type.Object(
  {
    step: Type.String({ description: "check, sleep-prep, pause, write, resume, wake, stop, manifest, recover; restore: check, load, wake, health" }),
    ok: Type.Boolean(),
    ms: Type.Number({ minimum: 0 }),
    detail: Type.String(),
  },
  Strict,
);

/** DIR/manifest.json: a file (zod, host/client/snapshot/manifest.ts); its JSON Schema for the answers that carry it. */
const ManifestJson = Type.Unsafe<Manifest>(z.toJSONSchema(ManifestSchema) as Record<string, unknown>);

const VmmKindSchema = Type.Union([Type.Literal("qemu"), Type.Literal("firecracker")]);

export const SnapshotReportSchema = Type.Object(
  {
    vm: Type.String(),
    vmm: VmmKindSchema,
    dir: Type.String({ description: "The absolute directory on the bridge's host" }),
    then: Type.Union([Type.Literal("resume"), Type.Literal("stop")]),
    steps: Type.Array(LoopStep),
    manifest: ManifestJson,
    duration_ms: Type.Number({ minimum: 0 }),
  },
  Strict,
);

export const RestoreReportSchema = Type.Object(
  {
    vm: Type.String(),
    vmm: VmmKindSchema,
    dir: Type.String(),
    manifest: ManifestJson,
    steps: Type.Array(LoopStep),
    wake: WakeResult,
    failed_restores: Type.Array(Type.String(), { description: "restore:NAME steps of wake that failed" }),
    state: Type.String({ description: "the agent's lifecycle state after wake" }),
    health: Type.Union([Type.Null(), Type.Object({ ready: Type.Boolean(), integrations: Type.Array(Type.Object({ name: Type.String(), status: Type.String() }, Strict)) }, Strict)]),
    duration_ms: Type.Number({ minimum: 0 }),
  },
  Strict,
);

const LoopEvents = {
  step: "a step started (status running) or ended (ok / failed), with ms and detail (data: JSON)",
  result: "the whole report (data: JSON)",
  error: "the operation failed (data: JSON {code, message, status, data: {step, steps}})",
};

/** A streamed sleep-prep or wake: the agent's step events (their declaration in plugins/snapshot/schemas.ts), then the answer. */
const AgentStepEvents = {
  step: "a step started (status running) or ended (ok / failed), with duration_ms and detail (data: JSON, the agent's step event)",
  result: "the agent's answer (data: JSON)",
  error: "the call failed (data: JSON {code, message, status})",
};

const LoopErrors = {
  "403": "The bridge was started without --snapshot-dir (E_FORBIDDEN)",
  "409": "A snapshot or restore of this VM is running (E_BUSY), the directory holds a snapshot (E_EXISTS), or the guest was not ready (E_NOT_READY, woken again)",
  "422": "The snapshot is damaged or does not match the VM or its VMM (E_BAD_SNAPSHOT); nothing was loaded",
};

const CallBody = Type.Record(Type.String(), Type.Unknown(), { description: "the request's params" });

/** What Prometheus' http_sd_configs reads: a list of target groups (host/bridge/sd.ts). */
const SdResponse = Type.Array(
  Type.Object({ targets: Type.Array(Type.String()), labels: Type.Record(Type.String(), Type.String()) }, Strict),
  { description: "Prometheus HTTP SD target groups" },
);

const Healthz = Type.Object({ ok: Type.Literal(true), vms: Type.Integer() }, Strict);

/** The result schema a bundled request declares (plugins/requests.ts gathers the plugins' tables). */
const agentResult = (type: BundledRequestName) => BUNDLED_REQUESTS[type].result;

export type RouteId =
  | "healthz" | "vms" | "vm" | "health" | "probes" | "worker" | "diff" | "logs"
  | "sleep-prep" | "wake" | "snapshot" | "restore" | "exec" | "call" | "metrics" | "sd" | "openapi" | "dashboard" | "dashboard-events" | "snapshot-page" | "snapshot-js"
  | "vm-openapi";

/** One route: everything the validator and the OpenAPI generator need. */
export interface RouteDef {
  id: RouteId;
  method: "get" | "post";
  /** Hono path (`:name` parameters). */
  path: string;
  summary: string;
  params?: Record<string, TSchema>;
  query?: TSchema;
  body?: TSchema;
  /** JSON answer (absent for text/html answers). */
  response?: TSchema;
  /** Content type of a non-JSON answer. */
  produces?: string;
  /** Server-sent events this route may answer with, by event name. */
  sse?: Record<string, string>;
  /** Not behind the bearer token. */
  public?: boolean;
  /** Error statuses beyond the usual ones (400, 401, 404, 502, 504), with when they come. */
  errors?: Record<string, string>;
}

const vm = { name: VmName };

/** Every route the bridge serves, in the order of /openapi.json. */
export const ROUTES: RouteDef[] = [
  { id: "healthz", method: "get", path: "/healthz", summary: "Liveness of the bridge itself (no token needed)", response: Healthz, public: true },
  { id: "vms", method: "get", path: "/api/vms", summary: "Every VM: reachable, lifecycle state, version, uptime, worker, health counts (one status call each, concurrently; the same document as mvmctl ls --json)", response: FleetSummarySchema },
  { id: "vm", method: "get", path: "/api/vms/:name", summary: "One VM's agent status", params: vm, response: VmStatus },
  { id: "health", method: "get", path: "/api/vms/:name/health", summary: "Integration health (the agent's `health`)", params: vm, response: agentResult("health") },
  { id: "probes", method: "get", path: "/api/vms/:name/probes", summary: "Probe results (the agent's `probes`)", params: vm, response: agentResult("probes") },
  { id: "worker", method: "get", path: "/api/vms/:name/worker", summary: "Worker idle/busy (the agent's `worker-status`)", params: vm, response: agentResult("worker-status") },
  { id: "diff", method: "get", path: "/api/vms/:name/diff", summary: "Files changed since boot, one page (the agent's `fs-diff`)", params: vm, query: DiffQuery, response: agentResult("fs-diff") },
  {
    id: "logs", method: "get", path: "/api/vms/:name/logs", summary: "The VM's console log: last lines, or followed as server-sent events",
    params: vm, query: LogsQuery, response: LogsResult, sse: { line: "one console line (data: the text)", reset: "the file was truncated or replaced; reading from its start" },
  },
  {
    id: "sleep-prep", method: "post", path: "/api/vms/:name/sleep-prep", summary: "Prepare for a snapshot (the agent's `sleep-prep`); streams its steps with ?stream=1 or Accept: text/event-stream",
    params: vm, query: StreamQuery, body: SleepPrepBody, response: agentResult("sleep-prep"), sse: AgentStepEvents,
  },
  {
    id: "wake", method: "post", path: "/api/vms/:name/wake", summary: "After a restore (the agent's `wake`); sends the host's time unless told otherwise; streams its steps like sleep-prep",
    params: vm, query: StreamQuery, body: WakeBody, response: agentResult("wake"), sse: AgentStepEvents,
  },
  {
    id: "snapshot", method: "post", path: "/api/vms/:name/snapshot",
    summary: "Snapshot the VM through its VMM (sleep-prep, pause, write, resume + wake or stop, manifest) into a directory under --snapshot-dir; streams its steps with ?stream=1 or Accept: text/event-stream",
    params: vm, query: StreamQuery, body: SnapshotBody, response: SnapshotReportSchema, sse: LoopEvents, errors: LoopErrors,
  },
  {
    id: "restore", method: "post", path: "/api/vms/:name/restore",
    summary: "Restore a snapshot from a directory under --snapshot-dir into the VM's VMM waiting for it (check, load, wake, health); streams its steps like snapshot",
    params: vm, query: StreamQuery, body: RestoreBody, response: RestoreReportSchema, sse: LoopEvents, errors: LoopErrors,
  },
  {
    id: "exec", method: "post", path: "/api/vms/:name/exec", summary: "Run a command in the guest (dev builds); streams with ?stream=1 or Accept: text/event-stream",
    params: vm, query: StreamQuery, body: ExecBody, response: agentResult("exec"),
    sse: { stdout: "a chunk of stdout (data: JSON string)", stderr: "a chunk of stderr (data: JSON string)", result: "the final result (data: JSON)", error: "the call failed (data: JSON {code, message})" },
  },
  {
    id: "call", method: "post", path: "/api/vms/:name/call/:type", summary: "Any request, custom plugins included; body = params",
    params: { ...vm, type: RequestType }, query: StreamQuery, body: CallBody, response: Type.Unknown({ description: "the request's result" }),
    sse: { result: "the final result (data: JSON)", error: "the call failed (data: JSON {code, message})" },
  },
  {
    id: "vm-openapi", method: "get", path: "/api/vms/:name/openapi.json",
    summary: "One VM's OpenAPI 3.1 document, from its agent's describe: a typed path per request it serves (custom plugins' included), at the call route",
    params: vm, response: Type.Unknown({ description: "OpenAPI 3.1" }),
  },
  {
    id: "metrics", method: "get", path: "/metrics", errors: { "404": "?vm= names no VM of vms.json (E_NOT_FOUND)" },
    summary: "Prometheus text format for every VM and the bridge itself, or (?vm=NAME) one VM; each agent is asked under X-Prometheus-Scrape-Timeout-Seconds minus a margin, so a hung agent is mvm_agent_up 0 and the scrape still answers",
    query: MetricsQuery, produces: "text/plain; version=0.0.4",
  },
  {
    id: "sd", method: "get", path: "/api/sd",
    summary: "Prometheus HTTP service discovery: one target group per VM (this bridge's address, __param_vm, vm and its vms.json labels), for http_sd_configs",
    response: SdResponse,
  },
  { id: "openapi", method: "get", path: "/openapi.json", summary: "This document", response: Type.Unknown({ description: "OpenAPI 3.1" }) },
  { id: "dashboard", method: "get", path: "/", summary: "The dashboard (HTML; ?token=T once sets a cookie when a token is required)", produces: "text/html" },
  {
    id: "dashboard-events", method: "get", path: "/api/dashboard/events",
    summary: "The dashboard's live updates as server-sent events (one poll of every agent each refresh period, shared by every open page)",
    sse: { update: "JSON {title, summary, order: [VM names, worst first], cards: [{name, hash, html}]}: the cards that changed since this stream last sent them (all of them first), HTML rendered and escaped by the bridge" },
  },
  { id: "snapshot-page", method: "get", path: "/vms/:name/snapshot", summary: "The dashboard's snapshot and restore page for one VM (HTML; 403 without --snapshot-dir)", params: vm, produces: "text/html" },
  { id: "snapshot-js", method: "get", path: "/assets/snapshot.js", summary: "The snapshot page's script (same origin, so a Content-Security-Policy of script-src 'self' allows it)", produces: "text/javascript" },
];

export function routeById(id: RouteId): RouteDef {
  return ROUTES.find((r) => r.id === id)!;
}
