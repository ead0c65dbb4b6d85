// The HTTP bridge: a Hono app turning many guest agents into one local API, /metrics, /openapi.json and a dashboard.

import type { TSchema } from "@sinclair/typebox";
import { Hono, type Context } from "hono";
import { VERSION } from "../../agent/main.ts";
import { authKeys, authMiddleware } from "./auth.ts";
import { BUNDLED_REQUESTS, bundledRequest } from "../../plugins/requests.ts";
import { callDeadlineMs } from "../client/deadlines.ts";
import { fleetSummary } from "../client/fleet.ts";
import type { VmEntry } from "../client/vm-list.ts";
import { guardMiddleware } from "./guard.ts";
import { parseAllowHost } from "./hosts.ts";
import { callFailure, decodeQuery, HttpFail, mustMatch, readJsonObject } from "./input.ts";
import { readLastLines } from "../client/console-log.ts";
import { DiffQuery, ExecBody, LogsQuery, MetricsQuery, routeById, ROUTES, SleepPrepBody, StreamQuery, WakeBody, type RouteId } from "./routes.ts";
import { snapshotRoutes } from "./snapshot.ts";
import { sseCall, sseLogs, wantsEventStream } from "./stream.ts";
import type { BridgeDeps } from "./types.ts";
import { DASHBOARD_CSP, renderDashboard, type DiffSeen } from "./dashboard.tsx";
import { dashboardEvents, dashboardHub } from "./dashboard-live.ts";
import { Histogram, renderMetrics } from "./metrics.ts";
import { collectScrape, SCRAPE_TIMEOUT_HEADER, scrapeBudgetMs } from "./metrics-scrape.ts";
import { serviceDiscovery } from "./sd.ts";
import { openApiDocument } from "./openapi.ts";
import { describedFromHello, vmOpenApiDocument } from "./vm-openapi.ts";
import { compiled } from "../../agent/router.ts";
import { DescribeResult, HelloResult } from "../../agent/wire.ts";

export type { BridgeDeps } from "./types.ts";

export interface Bridge {
  app: Hono;
  /** For Bun.serve. */
  fetch(req: Request): Response | Promise<Response>;
  /** The bridge's own request latency (also on /metrics). */
  readonly latency: Histogram;
  /** Dashboard pages following the live updates now (each an open event stream). */
  dashboardPages(): number;
  /** Stop the dashboard's poller and end its event streams (serveBridge calls it on stop). */
  close(): void;
}

/** How long the generic call route waits for a request that declares no bound of its own (a custom one, hello). */
const UNDECLARED_CALL_MS = 30_000;

/**
 * Build the bridge. Nothing listens: serve `bridge.fetch` with Bun.serve, or call `bridge.app.request()` in tests.
 * @example
 * const bridge = createBridge({ vms: () => registry.vms, call: pool.call, token: "s3cret", port: () => 7070 });
 * Bun.serve({ hostname: "127.0.0.1", port: 7070, fetch: bridge.fetch });
 */
export function createBridge(deps: BridgeDeps): Bridge {
  const now = deps.now ?? Date.now;
  const callMs = deps.callTimeoutMs ?? 5000;
  const pollMs = deps.logPollMs ?? 250;
  const refreshSecs = deps.refreshSecs ?? 5;
  const latency = new Histogram("mvm_bridge_request_duration_seconds", "Time the bridge took to answer (to the first byte for event streams)");
  const diffs = new Map<string, DiffSeen>();
  const sleepPrepMs = new Map<string, number>();
  const app = new Hono();

  app.use(async (c, next) => {
    const t0 = performance.now();
    await next();
    const route = c.req.routePath && c.req.routePath !== "/*" ? c.req.routePath : "unmatched";
    latency.observe({ method: c.req.method, route, code: String(c.res.status) }, (performance.now() - t0) / 1000);
  });

  // Before any route: the Host allow-list and the change checks (guard.ts), then who is asking (auth.ts).
  const port = deps.port ?? (() => undefined);
  const boundNames = deps.bindAddress === undefined ? [] : [parseAllowHost(deps.bindAddress).name];
  app.use(guardMiddleware({ allowHosts: (deps.allowHosts ?? []).map(parseAllowHost), boundNames, port }));
  const keys = deps.token === null ? null : authKeys(deps.token);
  if (keys) app.use(authMiddleware(keys, port));

  app.onError((err, c) => {
    if (err instanceof HttpFail) return c.json(err.body(), err.status);
    deps.log?.error(`bridge: ${c.req.method} ${c.req.path}: ${(err as Error)?.stack ?? err}`);
    return c.json({ code: "E_INTERNAL", message: "internal error in the bridge (see its console)" }, 500);
  });
  app.notFound((c) => c.json({ code: "E_NOT_FOUND", message: `no route ${c.req.method} ${c.req.path} (see /openapi.json)` }, 404));

  const vmOf = (c: Context): VmEntry => {
    const name = c.req.param("name");
    const vm = deps.vms().find((v) => v.name === name);
    if (!vm) throw new HttpFail(404, "E_NOT_FOUND", `no VM named ${JSON.stringify(name)} in vms.json`);
    return vm;
  };
  /** One agent call; with `signal` (the HTTP request's), a client that goes away cancels it. */
  const call = async (vm: VmEntry, type: string, params: Record<string, unknown> | undefined, timeoutMs = callMs, signal?: AbortSignal): Promise<unknown> => {
    try {
      return await deps.call(vm, type, params, signal ? { timeoutMs, signal } : { timeoutMs });
    } catch (e) {
      throw callFailure(e, vm.name);
    }
  };
  const query = (c: Context, schema: TSchema) => {
    const q = decodeQuery(schema, new URL(c.req.url).searchParams);
    mustMatch(schema, q, "query");
    return q;
  };
  /** A JSON body checked against the params the request declares (the registry), else against `schema`. */
  const body = async (c: Context, schema: TSchema, type: string) => {
    const b = await readJsonObject(c.req.raw);
    mustMatch(bundledRequest(type)?.params ?? schema, b, "body");
    return b;
  };
  /** The call's deadline from its request's declaration (deadline param, its default, timeoutSecs), plus the ordinary one. */
  const deadline = (type: string, params: unknown, undeclared = callMs) => callDeadlineMs(type, params, callMs) ?? undeclared;
  const loop = snapshotRoutes(deps, vmOf, VERSION, keys?.csrf ?? "");
  /** Totals of a whole walk (count mode, or a single page that is the whole diff) are the dashboard's diff totals. */
  const remember = (vm: string, result: unknown) => {
    const r = result as { summary?: DiffSeen["summary"]; next_cursor?: unknown };
    if (r?.summary && typeof r.summary.created === "number" && r.next_cursor === null) diffs.set(vm, { at: now(), summary: r.summary });
  };
  const hub = dashboardHub({ vms: deps.vms, call: deps.call, callMs, now, refreshSecs, snapshots: !!deps.snapshotRoot, diffs, version: VERSION });

  const handlers: Record<RouteId, (c: Context) => Promise<Response> | Response> = {
    healthz: (c) => c.json({ ok: true, vms: deps.vms().length }),
    vms: async (c) => c.json(await fleetSummary(deps.vms(), deps.call, callMs)),
    vm: async (c) => {
      const vm = vmOf(c);
      const status = await call(vm, "status", {});
      return c.json({ name: vm.name, agent: vm.agent, labels: vm.labels ?? {}, status });
    },
    health: async (c) => c.json((await call(vmOf(c), "health", {})) as object),
    probes: async (c) => c.json((await call(vmOf(c), "probes", {})) as object),
    worker: async (c) => c.json((await call(vmOf(c), "worker-status", {})) as object),
    diff: async (c) => {
      const vm = vmOf(c);
      const params = query(c, DiffQuery);
      const result = await call(vm, "fs-diff", params, deadline("fs-diff", params));
      if (!params.cursor && !params.include && !params.exclude) remember(vm.name, result);
      return c.json(result as object);
    },
    logs: async (c) => {
      const vm = vmOf(c);
      const q = query(c, LogsQuery) as { lines?: number; follow?: boolean };
      if (!vm.console_log) throw new HttpFail(404, "E_NOT_FOUND", `VM ${vm.name} has no console_log in vms.json`);
      const lines = q.lines ?? 100;
      try {
        if (q.follow) return sseLogs(c, vm.console_log, lines, pollMs);
        return c.json({ name: vm.name, path: vm.console_log, lines: readLastLines(vm.console_log, lines).lines });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === "ENOENT") throw new HttpFail(404, "E_NOT_FOUND", `${vm.name}: console log ${vm.console_log} does not exist`);
        throw new HttpFail(502, "E_UNAVAILABLE", `${vm.name}: cannot read console log ${vm.console_log}: ${err.message}`);
      }
    },
    "sleep-prep": async (c) => {
      const vm = vmOf(c);
      const q = query(c, StreamQuery) as { stream?: boolean };
      const params = await body(c, SleepPrepBody, "sleep-prep");
      const record = (result: unknown) => {
        const d = (result as { duration_ms?: unknown })?.duration_ms;
        if (typeof d === "number") sleepPrepMs.set(vm.name, d);
      };
      // ?stream=1 (or Accept: text/event-stream): each step as a `step` event, as exec streams its output.
      if (q.stream === true || params.stream === true || wantsEventStream(c)) {
        params.stream = true;
        return sseCall(c, deps.call, vm, "sleep-prep", params, deadline("sleep-prep", params), record);
      }
      const result = await call(vm, "sleep-prep", params, deadline("sleep-prep", params));
      record(result);
      return c.json(result as object);
    },
    wake: async (c) => {
      const vm = vmOf(c);
      const b = await readJsonObject(c.req.raw);
      mustMatch(WakeBody, b, "body");
      const params: Record<string, unknown> = { ...b };
      if (b.wall_clock === undefined) params.wall_clock = new Date(now()).toISOString();
      if (b.wall_clock === null) delete params.wall_clock;
      const q = query(c, StreamQuery) as { stream?: boolean };
      if (q.stream === true || wantsEventStream(c)) params.stream = true;
      mustMatch(BUNDLED_REQUESTS.wake.params, params, "body");
      if (params.stream) return sseCall(c, deps.call, vm, "wake", params, deadline("wake", params));
      return c.json((await call(vm, "wake", params, deadline("wake", params))) as object);
    },
    snapshot: (c) => loop.snapshot(c),
    restore: (c) => loop.restore(c),
    "snapshot-page": (c) => loop.page(c),
    "snapshot-js": (c) => loop.script(c),
    exec: async (c) => {
      const vm = vmOf(c);
      const q = query(c, StreamQuery) as { stream?: boolean };
      const params = await body(c, ExecBody, "exec");
      const sse = q.stream === true || params.stream === true || wantsEventStream(c);
      params.stream = sse;
      const timeoutMs = deadline("exec", params);
      if (sse) return sseCall(c, deps.call, vm, "exec", params, timeoutMs);
      // Like a stream, a plain exec whose HTTP client went away is cancelled: the agent kills its process group.
      return c.json((await call(vm, "exec", params, timeoutMs, c.req.raw.signal)) as object);
    },
    call: async (c) => {
      const vm = vmOf(c);
      const type = c.req.param("type")!;
      mustMatch(routeById("call").params!.type!, type, "path /type");
      const q = query(c, StreamQuery) as { stream?: boolean };
      const params = await body(c, routeById("call").body!, type);
      // The request's own declaration says how long it may take; one that declares nothing gets 30 s.
      const timeoutMs = deadline(type, params, UNDECLARED_CALL_MS);
      if (q.stream === true || wantsEventStream(c)) return sseCall(c, deps.call, vm, type, params, timeoutMs);
      // Work that runs commands (exec) is cancelled when the HTTP client goes away, as a stream is.
      const result = await call(vm, type, params, timeoutMs, bundledRequest(type)?.work ? c.req.raw.signal : undefined);
      return c.json(result === undefined ? null : (result as object));
    },
    "vm-openapi": async (c) => {
      const vm = vmOf(c);
      // The agent's answer is checked before it shapes the document; an agent before describe is read through hello.
      const checked = <T>(schema: typeof DescribeResult | typeof HelloResult, v: unknown, what: string): T => {
        if (compiled(schema).Check(v)) return v as T;
        throw new HttpFail(502, "E_PROTOCOL", `${vm.name}: the agent's ${what} answer does not match its schema`);
      };
      try {
        const described = checked<DescribeResult>(DescribeResult, await call(vm, "describe", {}), "describe");
        return c.json(vmOpenApiDocument({ vm: vm.name, version: VERSION, secured: keys !== null, described }));
      } catch (e) {
        if (!(e instanceof HttpFail) || e.code !== "E_UNKNOWN_REQUEST") throw e;
      }
      const hello = checked<HelloResult>(HelloResult, await call(vm, "hello", {}), "hello");
      return c.json(vmOpenApiDocument({ vm: vm.name, version: VERSION, secured: keys !== null, described: describedFromHello(hello), fromHello: true }));
    },
    metrics: async (c) => {
      const t0 = performance.now();
      const q = query(c, MetricsQuery) as { vm?: string; bridge?: boolean };
      if (q.vm !== undefined && q.bridge) throw new HttpFail(400, "E_INVALID_PARAMS", "vm and bridge: ask for one VM or for the bridge itself, not both");
      // One VM (the target /api/sd gives Prometheus), the bridge alone, or every VM; each agent under the scrape's deadline.
      const all = deps.vms();
      const vms = q.bridge ? [] : q.vm === undefined ? all : all.filter((v) => v.name === q.vm);
      if (q.vm !== undefined && !vms.length) throw new HttpFail(404, "E_NOT_FOUND", `no VM named ${JSON.stringify(q.vm)} in vms.json`);
      const budget = scrapeBudgetMs(c.req.header(SCRAPE_TIMEOUT_HEADER), callMs);
      const { overviews, collectMs } = await collectScrape(vms, deps.call, budget, { health: true, probes: true, worker: true });
      const text = renderMetrics(overviews, {
        sleepPrepMs,
        histogram: latency,
        collectMs,
        scrapeSeconds: (performance.now() - t0) / 1000,
        limits: deps.metricsLimits,
        perVm: q.vm !== undefined,
        vmCount: all.length,
      });
      return c.body(text, 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
    },
    sd: (c) => c.json(serviceDiscovery(deps.vms(), new URL(c.req.url).host)),
    openapi: (c) => c.json(openApiDocument({ version: VERSION, secured: keys !== null, server: new URL(c.req.url).origin })),
    dashboard: async (c) => {
      const state = await hub.state();
      c.header("Content-Security-Policy", DASHBOARD_CSP);
      c.header("Cache-Control", "no-store");
      return c.html(renderDashboard({ ...state, refreshSecs, csrf: keys?.csrf ?? "" }));
    },
    "dashboard-events": (c) => {
      c.header("Cache-Control", "no-store");
      return dashboardEvents(c, hub);
    },
  };

  for (const r of ROUTES) app.on(r.method.toUpperCase(), r.path, handlers[r.id]);
  return { app, fetch: (req) => app.fetch(req), latency, dashboardPages: () => hub.subscribers(), close: () => hub.close() };
}
