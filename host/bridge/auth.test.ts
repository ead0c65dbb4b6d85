// Bearer token, the dashboard's login cookie and its CSRF header, through app.request against a real agent.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestAgent, type TestAgent } from "../../agent/testing.ts";
import { authKeys, CSRF_HEADER, sessionCookieName } from "./auth.ts";
import { clientPool, type ClientPool } from "./pool.ts";
import { createBridge, type Bridge } from "./app.ts";
import { fakePlugins, fakeState } from "../testing.ts";

const TOKEN = "s3cret-token";
const PORT = 7070;
const BASE = `http://127.0.0.1:${PORT}`;
const json = { "content-type": "application/json" };
let agent: TestAgent;
let pool: ClientPool;
let bridge: Bridge;

beforeAll(async () => {
  agent = await startTestAgent({ plugins: fakePlugins(fakeState()) });
  pool = clientPool();
  bridge = createBridge({ vms: () => [{ name: "a", agent: `unix:${agent.socket}` }], call: pool.call, token: TOKEN, port: () => PORT });
});

afterAll(async () => {
  await pool.close();
  await agent.close();
});

const req = (path: string, init: RequestInit = {}) => bridge.app.request(`${BASE}${path}`, init);

/** Log in as the browser does and return the cookie pair to send back. */
async function login(): Promise<{ cookie: string; setCookie: string }> {
  const r = await req("/?token=" + encodeURIComponent(TOKEN));
  expect(r.status).toBe(303);
  expect(r.headers.get("location")).toBe("/");
  const setCookie = r.headers.get("set-cookie")!;
  return { cookie: setCookie.split(";")[0]!, setCookie };
}

describe("bearer token", () => {
  test("every route but /healthz needs it; a wrong one, another scheme or a token in the query is 401", async () => {
    expect((await req("/healthz")).status).toBe(200);
    for (const p of ["/api/vms", "/api/vms/a", "/metrics", "/openapi.json", "/", "/nope"]) {
      const r = await req(p);
      expect({ p, status: r.status }).toEqual({ p, status: 401 });
      expect(r.headers.get("www-authenticate")).toBe('Bearer realm="mvm bridge"');
    }
    for (const authorization of ["Bearer wrong", `Basic ${btoa(`x:${TOKEN}`)}`, `Bearer ${TOKEN} extra`, "Bearer", `bearer  ${TOKEN}x`])
      expect({ authorization, status: (await req("/api/vms/a", { headers: { authorization } })).status }).toEqual({ authorization, status: 401 });
    // only GET / logs in with ?token=
    for (const p of [`/api/vms/a?token=${TOKEN}`, `/metrics?token=${TOKEN}`]) expect((await req(p)).status).toBe(401);
    expect((await req(`/?token=${TOKEN}`, { method: "POST", headers: json, body: "{}" })).status).toBe(401);
  });

  test("the right one passes reads and changes (scripts need no cookie and no CSRF header)", async () => {
    const authorization = `Bearer ${TOKEN}`;
    expect((await req("/api/vms/a", { headers: { authorization } })).status).toBe(200);
    expect((await req("/api/vms/a", { headers: { authorization: `bearer   ${TOKEN}` } })).status).toBe(200);
    expect((await req("/api/vms/a/call/ping", { method: "POST", headers: { authorization, ...json }, body: "{}" })).status).toBe(200);
  });

  test("a wrong bearer is not rescued by a good cookie", async () => {
    const { cookie } = await login();
    expect((await req("/api/vms/a", { headers: { authorization: "Bearer wrong", cookie } })).status).toBe(401);
  });
});

describe("dashboard login cookie", () => {
  test("/?token= sets an HttpOnly, SameSite=Strict, Path=/ cookie named for the port, that is not the token", async () => {
    const { cookie, setCookie } = await login();
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Strict");
    expect(setCookie).toContain("Path=/");
    expect(cookie.startsWith(`${sessionCookieName(PORT)}=`)).toBe(true);
    const value = cookie.slice(cookie.indexOf("=") + 1);
    expect(value).not.toContain(TOKEN);
    expect(value).toBe(authKeys(TOKEN).session);
    expect(value).not.toBe(authKeys(TOKEN).csrf);
    // and it passes the page and the API reads
    const page = await req("/", { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`<meta name="mvm-csrf" content="${authKeys(TOKEN).csrf}"/>`);
    expect((await req("/api/vms/a", { headers: { cookie } })).status).toBe(200);
    expect((await req("/?token=nope")).status).toBe(401);
  });

  test("a cookie alone never changes anything: every POST needs the CSRF header too", async () => {
    const { cookie } = await login();
    for (const path of ["/api/vms/a/exec", "/api/vms/a/sleep-prep", "/api/vms/a/wake", "/api/vms/a/call/ping"]) {
      const r = await req(path, { method: "POST", headers: { cookie, ...json }, body: "{}" });
      expect({ path, status: r.status, code: ((await r.json()) as any).code }).toEqual({ path, status: 403, code: "E_CSRF" });
    }
    for (const csrf of ["", "x", TOKEN, authKeys(TOKEN).session, authKeys("other").csrf])
      expect((await req("/api/vms/a/call/ping", { method: "POST", headers: { cookie, ...json, [CSRF_HEADER]: csrf }, body: "{}" })).status).toBe(403);
    const ok = await req("/api/vms/a/call/ping", { method: "POST", headers: { cookie, ...json, [CSRF_HEADER]: authKeys(TOKEN).csrf }, body: "{}" });
    expect(ok.status).toBe(200);
  });

  test("the raw token as a cookie (what the old bridge set) is refused; so is another bridge's cookie", async () => {
    const name = sessionCookieName(PORT);
    for (const value of [TOKEN, authKeys("other-token").session]) expect((await req("/api/vms/a", { headers: { cookie: `${name}=${value}` } })).status).toBe(401);
    // a cookie for the bridge on another port of this host is not read
    expect((await req("/api/vms/a", { headers: { cookie: `${sessionCookieName(7071)}=${authKeys(TOKEN).session}` } })).status).toBe(401);
    expect((await req("/api/vms/a", { headers: { cookie: `mvm_bridge_token=${TOKEN}` } })).status).toBe(401);
  });

  test("without a token (--no-auth) nothing is asked, the page carries no CSRF value, and the change checks still hold", async () => {
    const open = createBridge({ vms: () => [{ name: "a", agent: `unix:${agent.socket}` }], call: pool.call, token: null, port: () => PORT });
    expect((await open.app.request(`${BASE}/api/vms/a`)).status).toBe(200);
    expect(await (await open.app.request(`${BASE}/`)).text()).toContain('<meta name="mvm-csrf" content=""/>');
    expect((await open.app.request(`${BASE}/api/vms/a/call/ping`, { method: "POST", headers: json, body: "{}" })).status).toBe(200);
    expect((await open.app.request(`${BASE}/api/vms/a/call/ping`, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" })).status).toBe(415);
    const doc = (await (await open.app.request(`${BASE}/openapi.json`)).json()) as any;
    expect(doc.security).toEqual([{}, { bearer: [] }]); // nothing needs the token (a bearer header is ignored)
  });
});

test("/openapi.json says bearer auth, 403 and 415 where they apply", async () => {
  const doc = (await (await req("/openapi.json", { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as any;
  expect(doc.security).toEqual([{ bearer: [] }]);
  expect(doc.paths["/healthz"].get.security).toEqual([]);
  const exec = doc.paths["/api/vms/{name}/exec"].post;
  expect(Object.keys(exec.responses)).toEqual(expect.arrayContaining(["401", "403", "415"]));
  expect(Object.keys(doc.paths["/api/vms"].get.responses)).toEqual(expect.arrayContaining(["401", "403"]));
});
