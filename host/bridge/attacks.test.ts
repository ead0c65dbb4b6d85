// Issue 15's attacks on `mvmctl serve`, replayed: pages from other origins in headless Chromium (forms, no-cors
// fetches, with and without a logged-in cookie), DNS rebinding, and the raw curl request. Each must find nothing ran.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestAgent, tempDir, waitFor, type TestAgent } from "../../agent/testing.ts";
import { execPlugin } from "../../plugins/exec/index.ts";
import { snapshotPlugin } from "../../plugins/snapshot/index.ts";
import { launchChromium, warnIfNoBrowser } from "../testing-browser.ts";
import { AgentClient } from "../client/agent-client.ts";
import type { ServeOptions } from "./serve.ts";
import { rawHttp, type ServedBridge, serveForTest } from "../testing.ts";

const tmp = tempDir("mvm-attacks-");
const TOKEN = "attack-test-token-0123456789abcdefghij";
let agent: TestAgent;
let client: AgentClient;

/** The bridge on port 0 with these options, its config dir under tmp (no auth option = the default token file). */
function serve(opts: ServeOptions): Promise<ServedBridge> {
  const vmsFile = join(tmp.path, "vms.json");
  return serveForTest({ vms: vmsFile, ...opts }, { XDG_CONFIG_HOME: join(tmp.path, "xdg"), HOME: join(tmp.path, "home") });
}

let open: ServedBridge; // started with no token flag: the default
let tok: ServedBridge; // started with --token-file, and the browser logs in to it
let attacker: ReturnType<typeof Bun.serve>;

const marker = (name: string) => join(tmp.path, "markers", name);
let seq = 0;

/** What the guest saw: did the marker command run, is the agent still running (no sleep-prep)? */
async function guestState(markerFile: string): Promise<{ ran: boolean; state: string }> {
  const status = (await client.call("status")) as { state: string };
  return { ran: existsSync(markerFile), state: status.state };
}

/** The snapshot plugin's record of the last sleep-prep (JSON), to see whether one happened. */
async function lastSleepPrep(): Promise<string> {
  const status = (await client.call("status")) as { plugins: { snapshot?: { last_sleep_prep?: unknown } } };
  return JSON.stringify(status.plugins.snapshot?.last_sleep_prep ?? null);
}

beforeAll(async () => {
  mkdirSync(join(tmp.path, "markers"));
  agent = await startTestAgent({ plugins: [execPlugin(), snapshotPlugin({ dropCachesPath: join(tmp.path, "drop_caches"), setClock: false })] });
  client = new AgentClient(`unix:${agent.socket}`);
  writeFileSync(join(tmp.path, "vms.json"), JSON.stringify({ vms: [{ name: "dev", agent: `unix:${agent.socket}` }] }));
  writeFileSync(join(tmp.path, "token"), `${TOKEN}\n`);
  chmodSync(join(tmp.path, "token"), 0o600);
  open = await serve({});
  tok = await serve({ auth: { tokenFile: join(tmp.path, "token") } });
  // The attacker's site: any page, on another port of the same machine.
  attacker = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => new Response(new URL(req.url).searchParams.get("html") ?? "", { headers: { "content-type": "text/html" } }) });
});

afterEach(async () => {
  // One attack that got through must not hide the next: put the guest back to running.
  if (((await client.call("status")) as { state: string }).state !== "running") await client.call("wake", {});
});

afterAll(async () => {
  attacker?.stop(true);
  expect(await open?.stop()).toBe(0);
  expect(await tok?.stop()).toBe(0);
  await client?.close();
  await agent?.close();
  tmp.cleanup();
});

describe("raw HTTP", () => {
  test("the curl attack of the issue (text/plain exec with an evil Origin and Host) runs nothing", async () => {
    for (const s of [open, tok]) {
      const m = marker(`curl-${++seq}`);
      const r = await rawHttp(
        s.port,
        `POST /api/vms/dev/exec HTTP/1.1\r\nHost: rebind.evil.example:${s.port}\r\nOrigin: http://evil.example\r\nContent-Type: text/plain`,
        JSON.stringify({ command: `id -un; touch ${m}` }),
      );
      expect(r.status).toBe(403);
      expect(r.body).not.toContain("root");
      expect(await guestState(m)).toEqual({ ran: false, state: "running" });
    }
  });

  test("DNS rebinding: a Host that is not ours is refused before any route, /healthz included", async () => {
    for (const path of ["/api/vms", "/healthz", "/metrics", "/"]) {
      const r = await rawHttp(open.port, `GET ${path} HTTP/1.1\r\nHost: rebind.evil.example:${open.port}`);
      expect(r.status).toBe(403);
      expect(r.body).not.toContain("dev");
    }
    const withToken = await rawHttp(tok.port, `GET /api/vms HTTP/1.1\r\nHost: rebind.evil.example:${tok.port}\r\nAuthorization: Bearer ${TOKEN}`);
    expect(withToken.status).toBe(403);
  });
});

const skip = warnIfNoBrowser("the bridge's defence against cross-origin pages");

describe.skipIf(skip)("pages from other origins in Chromium", () => {
  let ctx: any;

  beforeAll(async () => {
    ctx = await launchChromium(join(tmp.path, "profile"), [
      "--host-resolver-rules=MAP rebind.evil.example 127.0.0.1",
      // Chromium's own guard for public pages calling loopback (Local Network Access) is off: Firefox,
      // Safari and older Chromiums have none, and the bridge must hold without it.
      "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights",
    ]);
    // Log the browser in to the token bridge under both names: its cookie is now in the jar.
    const page = await ctx.newPage();
    for (const host of ["127.0.0.1", "localhost"]) {
      await page.goto(`http://${host}:${tok.port}/?token=${TOKEN}`);
      expect(page.url()).toBe(`http://${host}:${tok.port}/`);
      expect(await page.title()).toContain("mvm bridge");
    }
    await page.close();
  });

  afterAll(async () => {
    await ctx?.close();
  });

  test("the dashboard's own buttons still work with auth on: sleep-prep, then wake (cookie + CSRF header)", async () => {
    const tab = await ctx.newPage();
    const blocked: string[] = [];
    tab.on("console", (m: any) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) blocked.push(m.text());
    });
    try {
      const stateIs = async (want: string) => waitFor(async () => ((await client.call("status")) as { state: string }).state === want, 20_000, `the guest to be ${want}`);
      for (const [action, after] of [["sleep-prep", "sleeping"], ["wake", "running"]] as const) {
        await tab.goto(`http://127.0.0.1:${tok.port}/`);
        const answered = tab.waitForResponse((r: any) => r.url().endsWith(`/api/vms/dev/${action}`));
        await tab.click(`[data-vm="dev"] button[data-action="${action}"]`);
        expect((await answered).status()).toBe(200);
        await stateIs(after);
      }
      expect(blocked).toEqual([]);
    } finally {
      await tab.close();
    }
  });

  /** A page that auto-submits a text/plain form (the body is `name=value`, shaped into JSON). */
  const formPage = (action: string, json: string) => {
    const cut = json.lastIndexOf('"'); // the form adds "=" between name and value: hide it in the last string
    return `<!doctype html><form method="POST" enctype="text/plain" action="${action}"><input name='${json.slice(0, cut)}' value='${json.slice(cut)}'></form><script>document.forms[0].submit()</script>`;
  };
  /** A page that sends a no-cors fetch with a JSON text body (sent as text/plain, no preflight) and the cookies it may. */
  const fetchPage = (action: string, json: string) =>
    `<!doctype html><script>fetch(${JSON.stringify(action)}, {method: "POST", mode: "no-cors", credentials: "include", body: ${JSON.stringify(json)}}).finally(() => document.title = "sent")</script>`;

  /** Open the attacker's page at `from` and wait until the request to `target` was answered or failed. */
  async function attack(from: string, target: string, page: string): Promise<string> {
    const tab = await ctx.newPage();
    try {
      const seen = Promise.race([
        tab.waitForResponse((r: any) => r.url() === target).then((r: any) => `HTTP ${r.status()}`),
        tab.waitForEvent("requestfailed", (r: any) => r.url() === target).then((r: any) => `failed: ${r.failure()?.errorText}`),
      ]);
      await tab.goto(`http://${from}:${attacker.port}/?html=${encodeURIComponent(page)}`);
      return await seen;
    } finally {
      await tab.close();
    }
  }

  const origins = [
    { from: "127.0.0.1", to: "127.0.0.1", what: "another port on 127.0.0.1 (same site: a SameSite=Strict cookie goes along)" },
    { from: "localhost", to: "127.0.0.1", what: "localhost against 127.0.0.1" },
    { from: "127.0.0.1", to: "localhost", what: "127.0.0.1 against localhost" },
  ];
  const bridges = [
    { name: "no token flag (the default)", served: () => open },
    { name: "a token and a logged-in cookie", served: () => tok },
  ];

  for (const b of bridges)
    for (const o of origins)
      for (const kind of ["form", "fetch"] as const) {
        const how = kind === "form" ? "auto-submits a text/plain form" : "sends a no-cors fetch";
        test(`${b.name}: a page on ${o.what} ${how} to exec; nothing runs`, async () => {
          const target = `http://${o.to}:${b.served().port}/api/vms/dev/exec`;
          const m = marker(`${kind}-${++seq}`);
          const json = JSON.stringify({ command: `touch ${m}`, stdin: "x" });
          const outcome = await attack(o.from, target, kind === "form" ? formPage(target, json) : fetchPage(target, json));
          expect({ outcome, ...(await guestState(m)) }).toMatchObject({ ran: false, state: "running" });
          expect(outcome).toMatch(/^HTTP (401|403|415)$|^failed/);
        });

        test(`${b.name}: a page on ${o.what} ${how} to sleep-prep; the guest stays running`, async () => {
          const target = `http://${o.to}:${b.served().port}/api/vms/dev/sleep-prep`;
          // A form always puts "=" in its body: the best it can do is a string field (which the schema refuses).
          const json = kind === "form" ? JSON.stringify({ drain_timeout_secs: 5, x: "" }) : "{}";
          const before = await lastSleepPrep();
          const outcome = await attack(o.from, target, kind === "form" ? formPage(target, json) : fetchPage(target, json));
          const state = ((await client.call("status")) as { state: string }).state;
          expect({ outcome, state, sleepPrepped: (await lastSleepPrep()) !== before }).toMatchObject({ state: "running", sleepPrepped: false });
          expect(outcome).toMatch(/^HTTP (401|403|415)$|^failed/);
        });
      }

  test("DNS rebinding in the browser: a page whose name now points at the bridge can neither read nor post", async () => {
    // The attacker's page is served under its own name and the bridge's port (route() stands in for the
    // first DNS answer); its later requests resolve to 127.0.0.1 (the second answer): same origin, so
    // the browser lets the page read the answers and send JSON without a preflight.
    const base = `http://rebind.evil.example:${open.port}`;
    const tab = await ctx.newPage();
    try {
      await tab.route(`${base}/attack`, (route: any) => route.fulfill({ status: 200, contentType: "text/html", body: "<!doctype html><title>evil</title>" }));
      await tab.goto(`${base}/attack`);
      const m = marker(`rebind-${++seq}`);
      const seen = await tab.evaluate(async ([cmd]: string[]) => {
        const list = await fetch("/api/vms");
        const exec = await fetch("/api/vms/dev/exec", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ command: cmd }) });
        return { list: list.status, listBody: await list.text(), exec: exec.status };
      }, [`touch ${m}`]);
      expect(seen.listBody).not.toContain('"dev"');
      expect(seen).toMatchObject({ list: 403, exec: 403 });
      expect(await guestState(m)).toEqual({ ran: false, state: "running" });
      // Loading the API under that name directly is refused as well.
      expect((await tab.goto(`${base}/api/vms`)).status()).toBe(403);
    } finally {
      await tab.close();
    }
  });
});
