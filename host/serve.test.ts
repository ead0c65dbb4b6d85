// `mvmctl serve` over a real port (127.0.0.1, port 0): real HTTP, real agents, token, SSE, vms.json reload, clean stop.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestAgent, tempDir, waitFor, type TestAgent } from "../agent/testing.ts";
import { fakePlugins, fakeState } from "./bridge-fixtures.ts";
import { runServe } from "./serve.ts";
import { readSse } from "./sse-reader.ts";

let agent: TestAgent;
const tmp = tempDir("mvm-serve-");
const vmsFile = join(tmp.path, "vms.json");
const out: string[] = [];
const err: string[] = [];
const stop = new AbortController();
let url = "";
let exit: Promise<number>;
const auth = { authorization: "Bearer t0ken" };

beforeAll(async () => {
  agent = await startTestAgent({ plugins: fakePlugins(fakeState()) });
  writeFileSync(join(tmp.path, "console.log"), "booted\n");
  writeFileSync(vmsFile, JSON.stringify({ vms: [{ name: "vm1", agent: `unix:${agent.socket}`, console_log: "console.log" }, { name: "gone", agent: `unix:${join(tmp.path, "gone.sock")}` }] }));
  let listening!: () => void;
  const ready = new Promise<void>((r) => (listening = r));
  exit = runServe(["--port", "0", "--vms", vmsFile, "--token", "t0ken"], {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    signal: stop.signal,
    onListening: (u) => {
      url = u;
      listening();
    },
  });
  await Promise.race([ready, exit.then((c) => Promise.reject(new Error(`serve exited ${c}: ${err.join("\n")}`)))]);
});

let openStream: Response | null = null;

afterAll(async () => {
  stop.abort();
  expect(await exit).toBe(0); // open event streams do not hold the stop up
  expect(out.at(-1)).toBe("mvm bridge stopped");
  await agent.close();
  tmp.cleanup();
});

describe("serve on a real port", () => {
  test("binds 127.0.0.1 and says where", () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(out[0]).toContain(`on ${url} (2 VMs from ${vmsFile}, bearer token required)`);
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
    const r = await fetch(`${url}api/vms/vm1/exec`, { method: "POST", headers: { ...auth, accept: "text/event-stream" }, body: JSON.stringify({ argv: ["echo", "over", "tcp"] }) });
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

describe("serve flags", () => {
  const io = () => {
    const o: string[] = [];
    const e: string[] = [];
    return { o, e, io: { stdout: (t: string) => o.push(t), stderr: (t: string) => e.push(t) } };
  };

  test("--help, bad flags (2), a missing --vms file (1), a port in use (1)", async () => {
    const h = io();
    expect(await runServe(["--help"], h.io)).toBe(0);
    expect(h.o[0]).toContain("Usage: mvmctl serve");
    const b = io();
    expect(await runServe(["--port", "x"], b.io)).toBe(2);
    expect(b.e[0]).toContain("--port");
    expect(await runServe(["--bogus"], b.io)).toBe(2);
    const m = io();
    expect(await runServe(["--vms", join(tmp.path, "none.json"), "--port", "0"], m.io)).toBe(1);
    expect(m.e[0]).toContain("none.json");
    const p = io();
    const port = new URL(url).port;
    writeFileSync(join(tmp.path, "ok.json"), JSON.stringify({ vms: [] }));
    expect(await runServe(["--vms", join(tmp.path, "ok.json"), "--port", port], p.io)).toBe(1);
    expect(p.e[0]).toContain(`127.0.0.1:${port}`);
  });
});
