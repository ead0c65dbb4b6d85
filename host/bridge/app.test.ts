// Bridge routes through app.request(), against real agents (fake plugins) on real unix sockets via the real client.
// Over 300 lines: every route's answers and failures share the same three VMs (two agents and a missing one).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestAgent, tempDir, waitFor, type TestAgent } from "../../agent/testing.ts";
import { clientPool, type ClientPool } from "./pool.ts";
import { createBridge, type Bridge } from "./app.ts";
import type { VmEntry } from "../client/vm-list.ts";
import { decodeQuery } from "./input.ts";
import { DiffQuery, LogsQuery } from "./routes.ts";
import { fakePlugins, type FakeState, readSse, troubledState } from "../testing.ts";

let a: TestAgent;
let b: TestAgent;
let sa: FakeState;
let sb: FakeState;
let pool: ClientPool;
let bridge: Bridge;
let vms: VmEntry[];
const tmp = tempDir("mvm-bridge-");
const consoleLog = join(tmp.path, "console.log");

beforeAll(async () => {
  sa = troubledState();
  sb = troubledState();
  sb.hang.add("health");
  a = await startTestAgent({ plugins: fakePlugins(sa) });
  b = await startTestAgent({ plugins: fakePlugins(sb) });
  writeFileSync(consoleLog, Array.from({ length: 30 }, (_, i) => `boot line ${i + 1}`).join("\n") + "\n");
  vms = [
    { name: "a", agent: `unix:${a.socket}`, console_log: consoleLog, labels: { role: "web" } },
    { name: "b", agent: `unix:${b.socket}` },
    { name: "down", agent: `unix:${join(tmp.path, "missing.sock")}` },
  ];
  pool = clientPool();
  bridge = createBridge({ vms: () => vms, call: pool.call, token: null, callTimeoutMs: 1500, logPollMs: 20 });
});

afterAll(async () => {
  await pool.close();
  await a.close();
  await b.close();
  tmp.cleanup();
});

const get = (path: string, init?: RequestInit) => bridge.app.request(path, init);
const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
  bridge.app.request(path, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body ?? {}), headers: { "content-type": "application/json", ...headers } });

describe("listing and status", () => {
  test("/healthz answers without asking any agent", async () => {
    const r = await get("/healthz");
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ok: true, vms: 3 });
  });

  test("/api/vms is the fleet summary: every VM from one status call each, the unreachable one with its reason", async () => {
    const r = await get("/api/vms");
    expect(r.status).toBe(200);
    const { vms: list } = (await r.json()) as { vms: any[] };
    expect(list.map((v) => v.name)).toEqual(["a", "b", "down"]);
    const [va, vb, vd] = list;
    // The whole row is fleet.test.ts's; ls.test.ts proves mvmctl ls --json gives the same bytes.
    expect(va).toMatchObject({ name: "a", labels: { role: "web" }, reachable: true, error: null, state: "running", worker: "busy", health: { ready: false, counts: { healthy: 1, error: 1 } } });
    // b's health request hangs; the summary never asks it (the status section carries the counts)
    expect(vb).toMatchObject({ reachable: true, error: null, health: { ready: false } });
    expect(vd).toMatchObject({ reachable: false, state: null, health: null, error: { code: "E_SOCKET_MISSING" } });
  });

  test("/api/vms/:name is the agent's status; an unknown VM is 404", async () => {
    const r = await get("/api/vms/a");
    const body = (await r.json()) as any;
    expect(r.status).toBe(200);
    expect(body.name).toBe("a");
    expect(body.status.state).toBe("running");
    expect(body.status.plugins.snapshot.last_sleep_prep.result.duration_ms).toBe(120);
    const nf = await get("/api/vms/nope");
    expect(nf.status).toBe(404);
    expect(await nf.json()).toEqual({ code: "E_NOT_FOUND", message: 'no VM named "nope" in vms.json' });
  });

  test("health, probes and worker pass the agent's answers through", async () => {
    expect(((await (await get("/api/vms/a/health")).json()) as any).integrations.map((i: any) => i.status)).toEqual(["healthy", "error"]);
    expect(((await (await get("/api/vms/a/probes")).json()) as any).probes[0].value).toBe(42);
    expect(((await (await get("/api/vms/a/worker")).json()) as any).status).toBe("busy");
  });

  test("an unreachable agent is 502 with the client's code, a silent one 504, and the others still answer", async () => {
    const down = await get("/api/vms/down/health");
    expect(down.status).toBe(502);
    expect(((await down.json()) as any).code).toBe("E_SOCKET_MISSING");
    const slow = get("/api/vms/b/health");
    const other = await get("/api/vms/a/worker");
    expect(other.status).toBe(200);
    const r = await slow;
    expect(r.status).toBe(504);
    const body = (await r.json()) as any;
    expect(body.code).toBe("E_CLIENT_TIMEOUT");
    expect(body.message).toStartWith("b: ");
    expect((await get("/api/vms/b")).status).toBe(200);
    sb.hang.delete("health");
    expect((await get("/api/vms/b/health")).status).toBe(200);
  });

  test("unknown routes are 404 JSON", async () => {
    const r = await get("/api/nothing");
    expect(r.status).toBe(404);
    expect(((await r.json()) as any).code).toBe("E_NOT_FOUND");
  });
});

describe("diff", () => {
  test("query becomes fs-diff params: repeated include, limit, cursor", async () => {
    const r = await get("/api/vms/a/diff?limit=1&cursor=1");
    const body = (await r.json()) as any;
    expect(r.status).toBe(200);
    expect(body.changes).toEqual([sa.changes[1]]);
    expect(body.next_cursor).toBe("2");
    const inc = (await (await get("/api/vms/a/diff?include=/etc/**&include=/srv/**")).json()) as any;
    expect(inc.changes.map((c: any) => c.path)).toEqual(["/etc/hosts", "/srv/new", "/srv/new/data.bin"]);
    // a glob with a comma stays one glob; numbers and booleans are decoded by the schema
    expect(decodeQuery(DiffQuery, new URLSearchParams("include=/{etc,srv}/**&include=/x&limit=5"))).toEqual({ include: ["/{etc,srv}/**", "/x"], limit: 5 });
    expect(decodeQuery(LogsQuery, new URLSearchParams("follow=1&lines=7"))).toEqual({ follow: true, lines: 7 });
    expect(decodeQuery(LogsQuery, new URLSearchParams("follow=maybe&lines=1e3"))).toEqual({ follow: "maybe", lines: "1e3" });
  });

  test("bad query values and unknown keys are 400 naming the field", async () => {
    for (const q of ["limit=abc", "limit=0", "bogus=1"]) {
      const r = await get(`/api/vms/a/diff?${q}`);
      expect(r.status).toBe(400);
      const body = (await r.json()) as any;
      expect(body.code).toBe("E_INVALID_PARAMS");
      expect(body.message).toContain(q.split("=")[0]!);
    }
  });
});

describe("lifecycle and exec", () => {
  test("sleep-prep passes its body; a wrong body is 400 before the agent is asked", async () => {
    const r = await post("/api/vms/a/sleep-prep", { drain_timeout_secs: 5 });
    expect(r.status).toBe(200);
    expect(((await r.json()) as any).ready).toBe(true);
    const bad = await post("/api/vms/a/sleep-prep", { drain_timeout_secs: "soon" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).code).toBe("E_INVALID_PARAMS");
    const notJson = await post("/api/vms/a/sleep-prep", "{nope");
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as any).code).toBe("E_BAD_REQUEST");
  });

  test("wake sends the host's time unless the body says null", async () => {
    sa.wakeCalls.length = 0;
    expect((await post("/api/vms/a/wake")).status).toBe(200);
    expect((await post("/api/vms/a/wake", { wall_clock: null })).status).toBe(200);
    expect((sa.wakeCalls[0] as any).wall_clock).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(sa.wakeCalls[1]).toEqual({});
    expect((await post("/api/vms/a/wake", { wall_clock: "2026-01-01T00:00:00Z" })).status).toBe(200);
    expect(sa.wakeCalls[2]).toEqual({ wall_clock: "2026-01-01T00:00:00Z" });
    const bad = await post("/api/vms/a/wake", { wall_clock: "yesterday" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).message).toContain("wall_clock");
  });

  test("exec answers JSON, or server-sent events when asked", async () => {
    const r = await post("/api/vms/a/exec", { argv: ["echo", "hi"] });
    expect(((await r.json()) as any).stdout).toBe("hi\n");
    const s = await post("/api/vms/a/exec?stream=1", { argv: ["echo", "streamed"] });
    expect(s.headers.get("content-type")).toContain("text/event-stream");
    const events = await readSse(s, (e) => e.some((x) => x.event === "result" || x.event === "error"));
    expect(events.map((e) => e.event)).toEqual(["stdout", "stderr", "result"]);
    expect(JSON.parse(events[0]!.data)).toBe("streamed\n");
    expect(JSON.parse(events[2]!.data).exit_code).toBe(3);
    const accept = await post("/api/vms/a/exec", { command: "x" }, { accept: "text/event-stream" });
    expect((await readSse(accept, (e) => e.some((x) => x.event === "result"))).length).toBe(3);
  });

  test("closing an event stream disconnects from the agent, which aborts the running request", async () => {
    sa.hang.add("exec");
    sa.aborted.length = 0;
    try {
      const s = await post("/api/vms/a/exec?stream=1", { argv: ["sleep", "1000"] });
      expect(s.status).toBe(200);
      await waitFor(() => sa.started.includes("exec"), 5000, "the agent to start the exec");
      await s.body!.cancel();
      await waitFor(() => sa.aborted.includes("exec"), 5000, "the agent to see the exec aborted");
    } finally {
      sa.hang.delete("exec");
    }
  });

  test("a streamed call that fails ends with an error event carrying the HTTP status", async () => {
    const s = await post("/api/vms/down/exec?stream=1", { argv: ["true"] });
    const events = await readSse(s, (e) => e.some((x) => x.event === "error"));
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ code: "E_SOCKET_MISSING", status: 502 });
  });
});

describe("call", () => {
  test("any request by name, custom ones included", async () => {
    const r = await post("/api/vms/a/call/acme.echo", { say: "hello" });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ said: "hello" });
  });

  test("agent errors: invalid params 400, a refusal (E_BUSY) 409 with its code, unknown request 404", async () => {
    const bad = await post("/api/vms/a/call/acme.echo", { say: 1 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).code).toBe("E_INVALID_PARAMS");
    const busy = await post("/api/vms/a/call/acme.fail");
    expect(busy.status).toBe(409);
    expect(await busy.json()).toEqual({ code: "E_BUSY", message: "a: try later" });
    const unknown = await post("/api/vms/a/call/acme.nothing");
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as any).code).toBe("E_UNKNOWN_REQUEST");
  });

  test("a request name that cannot exist is 400; a body that is not an object is 400", async () => {
    expect((await post("/api/vms/a/call/Bad%20Name")).status).toBe(400);
    const arr = await post("/api/vms/a/call/ping", "[1]");
    expect(arr.status).toBe(400);
    expect(((await arr.json()) as any).message).toContain("JSON object");
  });
});

describe("logs", () => {
  test("the last N lines", async () => {
    const r = await get("/api/vms/a/logs?lines=3");
    expect(await r.json()).toEqual({ name: "a", path: consoleLog, lines: ["boot line 28", "boot line 29", "boot line 30"] });
    expect(((await (await get("/api/vms/a/logs")).json()) as any).lines.length).toBe(30);
    expect((await get("/api/vms/b/logs")).status).toBe(404);
  });

  test("follow streams new lines and survives truncation", async () => {
    const r = await get("/api/vms/a/logs?lines=1&follow=1");
    expect(r.headers.get("content-type")).toContain("text/event-stream");
    let step = 0;
    const events = await readSse(
      r,
      (e) => e.some((x) => x.data === "after truncate"),
      (e) => {
        if (e.data === "boot line 30" && step === 0) {
          step = 1;
          appendFileSync(consoleLog, "new line\n");
        } else if (e.data === "new line" && step === 1) {
          step = 2;
          truncateSync(consoleLog, 0);
          appendFileSync(consoleLog, "after truncate\n");
        }
      },
    );
    const seen = events.map((e) => `${e.event}:${e.data}`);
    expect(seen[0]).toBe("line:boot line 30");
    expect(seen).toContain("line:new line");
    expect(seen.at(-1)).toBe("line:after truncate");
  });
});

describe("openapi", () => {
  test("every route is in /openapi.json with its parameters, generated from the schemas", async () => {
    const doc = (await (await get("/openapi.json")).json()) as any;
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/healthz", "/api/vms", "/api/vms/{name}", "/api/vms/{name}/diff", "/api/vms/{name}/call/{type}", "/api/vms/{name}/logs", "/metrics", "/"]),
    );
    const diff = doc.paths["/api/vms/{name}/diff"].get;
    expect(diff.parameters.map((p: any) => `${p.in}:${p.name}`)).toEqual(["path:name", "query:include", "query:exclude", "query:limit", "query:cursor", "query:summary_only"]);
    expect(diff.responses["504"]).toBeDefined();
    expect(doc.paths["/api/vms/{name}/exec"].post.requestBody.content["application/json"].schema.properties.argv.type).toBe("array");
    expect(doc.paths["/api/vms/{name}/exec"].post.responses["200"].content["text/event-stream"]).toBeDefined();
    expect(doc.security).toEqual([{}, { bearer: [] }]); // no token on this bridge: bearer is optional
  });
});

describe("metrics and dashboard", () => {
  test("/metrics has every VM, integration states, probe gauges, worker and sleep-prep", async () => {
    await get("/api/vms/a");
    const text = await (await get("/metrics")).text();
    expect(text).toContain('mvm_agent_up{vm="a",role="web"} 1');
    expect(text).toContain('mvm_agent_up{vm="down"} 0');
    expect(text).toContain('mvm_health_integration_state{vm="a",role="web",integration="db",state="error"} 1');
    expect(text).toContain('mvm_health_integration_state{vm="a",role="web",integration="db",state="healthy"} 0');
    expect(text).toContain('mvm_probe_value{vm="a",role="web",probe="disk-usage",unit="percent"} 42');
    expect(text).not.toContain('probe="build-id",unit=""}');
    expect(text).toContain('mvm_worker_busy{vm="a",role="web"} 1');
    expect(text).toContain('mvm_sleep_prep_last_duration_seconds{vm="a",role="web"} 0.12');
    expect(text).toMatch(/mvm_bridge_request_duration_seconds_count\{method="GET",route="\/api\/vms\/:name",code="200"\} \d+/);
  });

  test("the dashboard page names every VM with its state, and escapes what guests send", async () => {
    sa.integrations[1]!.detail = '<img src=x onerror="alert(1)">';
    const html = await (await get("/")).text();
    sa.integrations[1]!.detail = "exit 1: connection refused";
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
    expect(html).toStartWith("<!doctype html>");
    expect(html).toContain('data-vm="a"');
    expect(html).toContain('data-vm="down"');
    expect(html).toContain("unreachable");
    // The card shows the whole diff's totals (fs-diff {summary_only: true}), not one page's.
    expect(html).toContain("2 created, 1 modified, 1 deleted (2168 bytes)");
    expect(html).toContain("42 percent");
  });
});
