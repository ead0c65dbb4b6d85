// `mvmctl serve` over a real port (127.0.0.1, port 0): real HTTP, real agents, token, SSE, vms.json reload, clean stop.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestAgent, tempDir, waitFor, type TestAgent } from "../../agent/testing.ts";
import { serveBridge, type ServeOptions } from "./serve.ts";
import { fakePlugins, fakeState, rawHttp, readSse, serveForTest } from "../testing.ts";

let agent: TestAgent;
const tmp = tempDir("mvm-serve-");
const vmsFile = join(tmp.path, "vms.json");
let served: Awaited<ReturnType<typeof serveForTest>>;
let url = "";
let out: string[];
let err: string[];
const auth = { authorization: "Bearer t0ken" };

beforeAll(async () => {
  agent = await startTestAgent({ plugins: fakePlugins(fakeState()) });
  writeFileSync(join(tmp.path, "console.log"), "booted\n");
  writeFileSync(vmsFile, JSON.stringify({ vms: [{ name: "vm1", agent: `unix:${agent.socket}`, console_log: "console.log" }, { name: "gone", agent: `unix:${join(tmp.path, "gone.sock")}` }] }));
  served = await serveForTest({ vms: vmsFile, auth: { token: "t0ken" } }, {});
  ({ url, out, err } = served);
});

let openStream: Response | null = null;

afterAll(async () => {
  expect(await served.stop()).toBe(0); // open event streams do not hold the stop up
  expect(out.at(-1)).toBe("mvm bridge stopped");
  await agent.close();
  tmp.cleanup();
});

describe("serve on a real port", () => {
  test("binds 127.0.0.1 and says where", () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(out[0]).toBe(`mvm bridge on ${url} (2 VMs from ${vmsFile}; token from --token)`);
    expect(out[1]).toBe(`dashboard: ${url} (log in with /?token= and the token given with --token)`);
  });

  test("healthz is open, the API needs the token", async () => {
    expect((await fetch(`${url}healthz`)).status).toBe(200);
    expect((await fetch(`${url}api/vms`)).status).toBe(401);
    const r = await fetch(`${url}api/vms`, { headers: auth });
    const body = (await r.json()) as any;
    expect(body.vms.map((v: any) => [v.name, v.reachable])).toEqual([
      ["vm1", true],
      ["gone", false],
    ]);
  });

  test("exec streams server-sent events over HTTP", async () => {
    const r = await fetch(`${url}api/vms/vm1/exec`, { method: "POST", headers: { ...auth, accept: "text/event-stream", "content-type": "application/json" }, body: JSON.stringify({ argv: ["echo", "over", "tcp"] }) });
    const events = await readSse(r, (e) => e.some((x) => x.event === "result"));
    expect(events.map((e) => e.event)).toEqual(["stdout", "stderr", "result"]);
    expect(JSON.parse(events[0]!.data)).toBe("over tcp\n");
  });

  test("logs follow over HTTP (console_log relative to vms.json); the stream stays open until stop", async () => {
    openStream = await fetch(`${url}api/vms/vm1/logs?follow=1&lines=5`, { headers: auth });
    expect(openStream.headers.get("content-type")).toContain("text/event-stream");
    const reader = openStream.body!.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain("data: booted");
    reader.releaseLock();
  });

  test("a dead agent is 502 and the bridge keeps serving", async () => {
    const r = await fetch(`${url}api/vms/gone/health`, { headers: auth });
    expect(r.status).toBe(502);
    expect((await fetch(`${url}api/vms/vm1`, { headers: auth })).status).toBe(200);
  });

  test("an edited vms.json is picked up; a broken edit keeps the last good list", async () => {
    writeFileSync(vmsFile, JSON.stringify({ vms: [{ name: "vm1", agent: `unix:${agent.socket}` }, { name: "vm2", agent: `unix:${agent.socket}` }, { name: "gone", agent: `unix:${join(tmp.path, "gone.sock")}` }] }));
    await waitFor(async () => (await fetch(`${url}api/vms/vm2`, { headers: auth })).status === 200, 4000, "vm2 to appear");
    writeFileSync(vmsFile, "{ not json");
    // the list is re-read when a request asks for it
    await waitFor(async () => (await fetch(`${url}api/vms/vm2`, { headers: auth })) && err.some((l) => l.includes("not valid JSON")), 4000, "the reload error");
    expect((await fetch(`${url}api/vms/vm2`, { headers: auth })).status).toBe(200);
  });
});

describe("serve options", () => {
  const io = () => {
    const e: string[] = [];
    return { e, io: { stdout: () => {}, stderr: (t: string) => e.push(t), env: { XDG_CONFIG_HOME: join(tmp.path, "xdg") } } };
  };

  test("a port out of range (2), a missing --vms file (1), a port in use (1)", async () => {
    const b = io();
    expect(await serveBridge({ port: 70_000 }, b.io)).toBe(2);
    expect(b.e[0]).toBe("mvmctl serve: --port: expected 0..65535, got 70000");
    const m = io();
    expect(await serveBridge({ vms: join(tmp.path, "none.json"), port: 0 }, m.io)).toBe(1);
    expect(m.e[0]).toContain("none.json");
    const p = io();
    writeFileSync(join(tmp.path, "ok.json"), JSON.stringify({ vms: [] }));
    expect(await serveBridge({ vms: join(tmp.path, "ok.json"), port: served.port }, p.io)).toBe(1);
    expect(p.e[0]).toContain(`127.0.0.1:${served.port}`);
  });
});

/** serveBridge on port 0 over ok.json with these options and a config dir of its own. */
async function started(opts: ServeOptions, xdg = join(tmp.path, `xdg-${Math.random().toString(36).slice(2)}`), tty = false) {
  writeFileSync(join(tmp.path, "ok.json"), JSON.stringify({ vms: [{ name: "vm1", agent: `unix:${agent.socket}` }] }));
  const b = await serveForTest({ vms: join(tmp.path, "ok.json"), ...opts }, { XDG_CONFIG_HOME: xdg }, { stdoutIsTTY: tty });
  return { ...b, base: b.url, xdg };
}

describe("secure by default", () => {
  test("no token flag: the token file is created in the config dir (0600, dir 0700), the login address printed once, and reused next time", async () => {
    const s = await started({});
    const file = join(s.xdg, "mvm", "bridge-token");
    const token = readFileSync(file, "utf8").trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(s.xdg, "mvm")).mode & 0o777).toBe(0o700);
    expect(s.out[0]).toBe(`mvm bridge on ${s.base} (1 VMs from ${join(tmp.path, "ok.json")}; token created in ${file})`);
    expect(s.out.filter((l) => l.includes(token))).toEqual([`dashboard: ${s.base}?token=${token}`]);
    expect(s.err.join("\n")).not.toContain(token);
    expect((await fetch(`${s.base}api/vms`)).status).toBe(401);
    expect((await fetch(`${s.base}api/vms`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const login = await fetch(`${s.base}?token=${token}`, { redirect: "manual" });
    expect(login.status).toBe(303);
    expect(await s.stop()).toBe(0);
    const again = await started({}, s.xdg);
    expect(again.out[0]).toEndWith(`; token from ${file})`);
    // Not a terminal (a systemd unit: the journal) and the file was there: the token stays in its file.
    expect(again.out[1]).toBe(`dashboard: ${again.base} (log in with /?token= and the token in ${file})`);
    expect(again.out.join("\n")).not.toContain(token);
    expect(again.loginUrl).toBe(`${again.base}?token=${token}`); // tests still get it
    expect(await again.stop()).toBe(0);
    // On a terminal the operator is there to use it: the login address, as on the first start.
    const tty = await started({}, s.xdg, true);
    expect(tty.out[1]).toBe(`dashboard: ${tty.base}?token=${token}`);
    expect(await tty.stop()).toBe(0);
  });

  test("--token-file FILE is created when missing; one that others can read, or a FIFO, stops the start (1) naming the fix", async () => {
    const file = join(tmp.path, "made", "tok");
    const s = await started({ auth: { tokenFile: file } });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(s.out[0]).toEndWith(`; token created in ${file})`);
    expect(await s.stop()).toBe(0);
    chmodSync(file, 0o640);
    const e: string[] = [];
    const env = { XDG_CONFIG_HOME: join(tmp.path, "xdg-x") };
    expect(await serveBridge({ port: 0, vms: join(tmp.path, "ok.json"), auth: { tokenFile: file } }, { stdout: () => {}, stderr: (t) => e.push(t), env })).toBe(1);
    expect(e[0]).toBe(`mvmctl serve: ${file} has mode 0640: group or others can read or change the token; run chmod 600 ${file}`);
    const fifo = join(tmp.path, "fifo");
    Bun.spawnSync(["mkfifo", "-m", "600", fifo]);
    expect(await serveBridge({ port: 0, vms: join(tmp.path, "ok.json"), auth: { tokenFile: fifo } }, { stdout: () => {}, stderr: (t) => e.push(t), env })).toBe(1);
    expect(e[1]).toContain("is not a regular file");
    // a broken default token file stops the start too: never an open bridge instead
    mkdirSync(join(tmp.path, "xdg-bad", "mvm"), { recursive: true });
    writeFileSync(join(tmp.path, "xdg-bad", "mvm", "bridge-token"), "t\n", { mode: 0o644 });
    chmodSync(join(tmp.path, "xdg-bad", "mvm", "bridge-token"), 0o644);
    expect(await serveBridge({ port: 0, vms: join(tmp.path, "ok.json") }, { stdout: () => {}, stderr: (t) => e.push(t), env: { XDG_CONFIG_HOME: join(tmp.path, "xdg-bad") } })).toBe(1);
    expect(e[2]).toContain("chmod 600");
  });

  test("options that would weaken it are refused with exit 2 and a clear reason, before anything listens", async () => {
    const cases: [ServeOptions, string][] = [
      [{ auth: "none", host: "0.0.0.0" }, "--no-auth is only allowed on a loopback address (--host 127.0.0.1, ::1 or localhost), not 0.0.0.0"],
      [{ auth: "none", host: "10.0.0.5" }, "not 10.0.0.5: anyone who reaches that address could drive your VMs"],
      [{ auth: { token: "two words" } }, "--token: the token must be printable ASCII"],
      [{ auth: { token: "" } }, "--token: the token is empty"],
      [{ allowHosts: ["http://evil.example/"] }, '--allow-host: "http://evil.example/" is not a host name'],
    ];
    for (const [opts, said] of cases) {
      const e: string[] = [];
      expect({ opts, code: await serveBridge({ port: 0, ...opts }, { stdout: () => {}, stderr: (t) => e.push(t), env: { XDG_CONFIG_HOME: join(tmp.path, "xdg-flags") } }) }).toEqual({ opts, code: 2 });
      expect(e[0]).toContain(said);
    }
  });

  test("--no-auth on loopback serves without a token, says so, and still refuses non-JSON changes and foreign hosts", async () => {
    const s = await started({ auth: "none" });
    expect(s.out[0]).toEndWith("; NO AUTH (--no-auth): every local user and process can drive these VMs)");
    expect(s.out.length).toBe(1);
    expect((await fetch(`${s.base}api/vms/vm1`)).status).toBe(200);
    expect((await fetch(`${s.base}api/vms/vm1/call/ping`, { method: "POST", body: "{}", headers: { "content-type": "text/plain" } })).status).toBe(415);
    expect((await rawHttp(s.port, `GET /api/vms HTTP/1.1\r\nHost: rebind.evil.example:${s.port}`)).status).toBe(403);
    expect(await s.stop()).toBe(0);
  });

  test("Host over a real socket: loopback names with the port, --host and --allow-host names; no Host (HTTP/1.0) is 403, not an error page", async () => {
    const s = await started({ auth: { token: "t0ken" }, host: "127.0.0.2", allowHosts: ["bridge.internal"] });
    expect(s.base).toMatch(/^http:\/\/127\.0\.0\.2:\d+\/$/);
    const get = (head: string) => rawHttp(s.port, `GET /api/vms/vm1 HTTP/1.1\r\n${head}\r\nAuthorization: Bearer t0ken`, "", "127.0.0.2");
    for (const host of [`127.0.0.2:${s.port}`, `localhost:${s.port}`, `127.0.0.1:${s.port}`, `[::1]:${s.port}`, "bridge.internal", `bridge.internal:${s.port}`])
      expect({ host, status: (await get(`Host: ${host}`)).status }).toEqual({ host, status: 200 });
    for (const host of [`127.0.0.2:${s.port + 1}`, `localhost:${s.port + 1}`, "rebind.evil.example", "0.0.0.0"]) expect({ host, status: (await get(`Host: ${host}`)).status }).toEqual({ host, status: 403 });
    const old = await rawHttp(s.port, "GET /api/vms HTTP/1.0\r\nAuthorization: Bearer t0ken", "", "127.0.0.2");
    expect(old.status).toBe(403);
    expect(old.body).not.toContain("<script");
    expect(await s.stop()).toBe(0);
  });
});
