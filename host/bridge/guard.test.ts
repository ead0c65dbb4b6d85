// The gate before every route, through app.request against a real agent: Host allow-list, JSON-only same-origin
// changes, Fetch Metadata, no CORS, hardening headers. Every refusal is checked to have reached no agent.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestAgent, type TestAgent } from "../../agent/testing.ts";
import { clientPool, type ClientPool } from "./pool.ts";
import { createBridge, type Bridge } from "./app.ts";
import { fakePlugins, type FakeState, fakeState } from "../testing.ts";

const PORT = 7070;
const BASE = `http://127.0.0.1:${PORT}`;
const bearer = { authorization: "Bearer s3cret" };
let agent: TestAgent;
let state: FakeState;
let pool: ClientPool;
let bridge: Bridge;
let calls = 0;

beforeAll(async () => {
  state = fakeState();
  agent = await startTestAgent({ plugins: fakePlugins(state) });
  pool = clientPool();
  bridge = createBridge({
    vms: () => [{ name: "a", agent: `unix:${agent.socket}` }],
    call: (vm, type, params, opts) => (calls++, pool.call(vm, type, params, opts)),
    token: "s3cret",
    allowHosts: ["bridge.internal", "10.0.0.5:7070"],
    port: () => PORT,
  });
});

afterAll(async () => {
  await pool.close();
  await agent.close();
});

const req = (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) => bridge.app.request(`${BASE}${path}`, init);
const post = (path: string, headers: Record<string, string>, body: string = "{}") => req(path, { method: "POST", headers: { ...bearer, ...headers }, body });
const json = { "content-type": "application/json" };

/** Run `fn` and say whether any agent call was made meanwhile. */
async function reachedAgent(fn: () => Promise<unknown>): Promise<boolean> {
  const before = calls;
  await fn();
  return calls !== before;
}

describe("Host allow-list", () => {
  test("loopback names with the bound port, and the --allow-host names, are served", async () => {
    for (const host of [`127.0.0.1:${PORT}`, `localhost:${PORT}`, `[::1]:${PORT}`, "bridge.internal", "bridge.internal:9999", "10.0.0.5:7070"])
      expect({ host, status: (await req("/api/vms/a", { headers: { ...bearer, host } })).status }).toEqual({ host, status: 200 });
  });

  test("any other Host is 403 before any route, /healthz, a wrong token and unknown paths included", async () => {
    for (const host of ["rebind.evil.example:7070", "127.0.0.1:7071", "localhost", "10.0.0.5:7071", "bridge.internal.evil.example", "", "a b", "127.0.0.1:7070, evil"])
      for (const [path, headers] of [["/healthz", {}], ["/api/vms", bearer], ["/nope", {}], ["/api/vms", { authorization: "Bearer wrong" }]] as const) {
        let r!: Response;
        expect(await reachedAgent(async () => (r = await req(path, { headers: { ...headers, host } })))).toBe(false);
        expect({ host, path, status: r.status, code: ((await r.json()) as any).code }).toEqual({ host, path, status: 403, code: "E_HOST_NOT_ALLOWED" });
      }
    const exec = await post("/api/vms/a/exec", { ...json, host: "rebind.evil.example:7070" }, '{"argv":["id"]}');
    expect(exec.status).toBe(403);
  });

  test("the refusal does not echo control characters raw", async () => {
    const r = await req("/healthz", { headers: { host: "evil\u001b[31m.example" } });
    expect(r.status).toBe(403);
    expect(await r.text()).not.toContain("\u001b");
  });
});

describe("changes need JSON", () => {
  test("POST with any other Content-Type, or none, is 415 and reaches no agent", async () => {
    for (const type of ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "text/json", "application/json-patch+json", "", undefined]) {
      let r!: Response;
      const headers: Record<string, string> = type === undefined ? {} : { "content-type": type };
      expect(await reachedAgent(async () => (r = await post("/api/vms/a/exec", headers, '{"argv":["id"]}')))).toBe(false);
      expect({ type, status: r.status, code: ((await r.json()) as any).code }).toEqual({ type, status: 415, code: "E_UNSUPPORTED_MEDIA_TYPE" });
    }
  });

  test("every unsafe method is checked, routes or not", async () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) expect((await req("/api/vms/a/wake", { method, headers: { ...bearer, "content-type": "text/plain" }, body: "{}" })).status).toBe(415);
  });

  test("application/json with parameters, in any case, passes", async () => {
    for (const type of ["application/json", "application/json; charset=utf-8", "Application/JSON"]) expect((await post("/api/vms/a/call/ping", { "content-type": type })).status).toBe(200);
  });
});

describe("changes from a browser must be same-origin", () => {
  test("another Origin, Origin: null, or Sec-Fetch-Site other than same-origin is 403", async () => {
    const cases: Record<string, string>[] = [
      { origin: "http://evil.example" },
      { origin: "http://127.0.0.1:8080" },
      { origin: `http://localhost:${PORT}` },
      { origin: "null" },
      { "sec-fetch-site": "same-site" },
      { "sec-fetch-site": "cross-site" },
      { "sec-fetch-site": "none" },
      { origin: BASE, "sec-fetch-site": "cross-site" },
    ];
    for (const h of cases) {
      let r!: Response;
      expect(await reachedAgent(async () => (r = await post("/api/vms/a/sleep-prep", { ...json, ...h })))).toBe(false);
      expect({ h, status: r.status, code: ((await r.json()) as any).code }).toEqual({ h, status: 403, code: "E_CROSS_ORIGIN" });
    }
  });

  test("the same origin, or no browser headers at all (curl, scripts), passes", async () => {
    expect((await post("/api/vms/a/sleep-prep", { ...json, origin: BASE, "sec-fetch-site": "same-origin" })).status).toBe(200);
    expect((await post("/api/vms/a/sleep-prep", { ...json, origin: "http://bridge.internal", host: "bridge.internal" })).status).toBe(200);
    expect((await post("/api/vms/a/sleep-prep", json)).status).toBe(200);
  });
});

describe("reads from other sites (Fetch Metadata)", () => {
  test("another site's page may link to the dashboard but not load the API into itself", async () => {
    const nav = { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" };
    expect((await req("/api/vms/a", { headers: { ...bearer, ...nav } })).status).toBe(200);
    for (const h of [
      { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "script" },
      { "sec-fetch-site": "same-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "image" },
      { "sec-fetch-site": "same-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "iframe" },
      { "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors", "sec-fetch-dest": "empty" },
    ]) {
      let r!: Response;
      expect(await reachedAgent(async () => (r = await req("/api/vms/a/logs", { headers: { ...bearer, ...h } })))).toBe(false);
      expect({ h, status: r.status }).toEqual({ h, status: 403 });
    }
  });
});

describe("headers", () => {
  test("no CORS header on any answer, a preflight included", async () => {
    const answers = [
      await req("/api/vms/a", { headers: { ...bearer, origin: "http://evil.example" } }),
      await req("/api/vms/a/exec", { method: "OPTIONS", headers: { origin: "http://evil.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type, authorization" } }),
      await req("/healthz", { headers: { origin: "http://evil.example" } }),
      await post("/api/vms/a/call/ping", json),
    ];
    for (const r of answers) expect([...r.headers.keys()].filter((k) => k.startsWith("access-control-"))).toEqual([]);
    expect(answers[1]!.status).toBeGreaterThanOrEqual(400);
  });

  test("every answer is hardened: no sniffing, no framing, no referrer, nothing active", async () => {
    for (const r of [await req("/healthz"), await req("/api/vms/a", { headers: bearer }), await req("/api/vms"), await req("/x", { headers: { host: "evil.example" } })]) {
      expect(r.headers.get("x-content-type-options")).toBe("nosniff");
      expect(r.headers.get("x-frame-options")).toBe("DENY");
      expect(r.headers.get("referrer-policy")).toBe("no-referrer");
      expect(r.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    }
    const page = await req("/", { headers: bearer });
    expect(page.headers.get("content-security-policy")).toMatch(/^default-src 'none'; style-src 'sha256-[^']+'; script-src 'sha256-[^']+'; connect-src 'self'/);
    expect(page.headers.get("cache-control")).toBe("no-store");
  });
});
