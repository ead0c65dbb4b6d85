// POST /api/vms/:name/snapshot and /restore: confined directories, streamed steps, errors as HTTP, and a client that leaves mid-way.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Type } from "@sinclair/typebox";
import { compiled, schemaErrors } from "../../agent/router.ts";
import { tempDir, waitFor } from "../../agent/testing.ts";
import { clientPool } from "./pool.ts";
import { RestoreReportSchema, SnapshotReportSchema } from "./routes.ts";
import { createBridge } from "./app.ts";
import type { VmEntry } from "../client/vm-list.ts";
import { ManifestSchema } from "../client/snapshot/manifest.ts";
import { callIs, FakeFirecracker, type FakeFirecrackerOptions } from "../client/vmm/fake-firecracker.ts";
import { serveBridge } from "./serve.ts";
import { loopAgent, readSse } from "../testing.ts";

const tmp = tempDir("mvm-bridge-snap-");
afterAll(() => tmp.cleanup());
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});
let n = 0;

async function setup(fcOpts: FakeFirecrackerOptions = { booted: true }, opts: { root?: boolean; calls?: string[] } = {}) {
  const id = ++n;
  const fc = await FakeFirecracker.start(join(tmp.path, `fc-${id}.sock`), fcOpts);
  const agent = await loopAgent();
  const pool = clientPool();
  const root = join(tmp.path, `root-${id}`);
  mkdirSync(root);
  const vms: VmEntry[] = [
    { name: "web1", agent: agent.address, vmm: { kind: "firecracker", api: fc.socket } },
    { name: "novmm", agent: agent.address },
  ];
  // `calls`: every request type the bridge sends the agent, in order (what the agent sees from it).
  const call: typeof pool.call = opts.calls ? (...a) => (opts.calls!.push(a[1]), pool.call(...a)) : pool.call;
  const bridge = createBridge({ vms: () => vms, call, token: null, callTimeoutMs: 2000, ...(opts.root === false ? {} : { snapshotRoot: root }) });
  open.push(agent, { close: () => fc.stop() }, pool);
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    bridge.app.request(path, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });
  return { fc, agent, root, vms, bridge, post };
}

/** The report's schema without the manifest (checked by its own zod schema), so TypeBox can compile it. */
function matches(schema: typeof SnapshotReportSchema | typeof RestoreReportSchema, value: Record<string, unknown>): void {
  const { manifest, ...rest } = value;
  const check = compiled(Type.Omit(schema, ["manifest"]));
  expect(schemaErrors(check, rest)).toEqual([]);
  expect(ManifestSchema.safeParse(manifest).success).toBe(true);
}

describe("snapshot", () => {
  test("one JSON answer: the report, as /openapi.json describes it; the files land under the root", async () => {
    const s = await setup();
    const r = await s.post("/api/vms/web1/snapshot", { to: "web1/first" });
    expect(r.status).toBe(200);
    const body = (await r.json()) as Record<string, unknown>;
    matches(SnapshotReportSchema, body);
    expect(body.dir).toBe(join(s.root, "web1", "first"));
    expect((body.steps as { step: string }[]).map((x) => x.step)).toEqual(["check", "sleep-prep", "pause", "write", "resume", "wake", "manifest"]);
    expect(readdirSync(join(s.root, "web1", "first"))).toHaveLength(3);
    expect(await s.agent.state()).toBe("running");
  });

  test("as events: a step event as each step starts and ends, then result", async () => {
    const s = await setup();
    const r = await s.post("/api/vms/web1/snapshot?stream=1", { to: "s", stop: true });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("text/event-stream");
    const events = await readSse(r);
    const steps = events.filter((e) => e.event === "step").map((e) => JSON.parse(e.data) as { step: string; status: string });
    expect(steps.map((e) => `${e.step}:${e.status}`)).toEqual(["check", "sleep-prep", "pause", "write", "stop", "manifest"].flatMap((x) => (x === "stop" ? ["stop:ok"] : [`${x}:running`, `${x}:ok`])));
    expect(events.at(-1)!.event).toBe("result");
    matches(SnapshotReportSchema, JSON.parse(events.at(-1)!.data));
    expect(s.fc.state).toBe("Paused");
  });

  test("directories a web client may not name: absolute, .., hidden, control characters, too deep, through a symlink", async () => {
    const s = await setup();
    mkdirSync(join(tmp.path, "outside"));
    symlinkSync(join(tmp.path, "outside"), join(s.root, "link"));
    const bad = ["/etc", "../outside", "web1/../../outside", "..", ".ssh", "web1/.hidden", "a\nb", "a b", "", "a/b/c/d/e/f/g/h/i", "C:\\x", "~/x"];
    for (const to of bad) {
      const r = await s.post("/api/vms/web1/snapshot", { to });
      expect(r.status).toBe(400);
      const e = (await r.json()) as { code: string; message: string };
      expect(e.code).toBe("E_INVALID_PARAMS");
      expect(e.message).toContain("/to");
    }
    const link = await s.post("/api/vms/web1/snapshot", { to: "link/x" });
    expect(link.status).toBe(400);
    expect(((await link.json()) as { message: string }).message).toContain("is a symlink");
    expect(readdirSync(join(tmp.path, "outside"))).toEqual([]);
    expect(s.fc.calls).toEqual([]);
    expect(s.agent.marker("checkpoint")).toBeNull();
  });

  test("other refusals before anything runs: unknown keys, resume with stop, no vmm, unknown VM, no --snapshot-dir, a directory holding a snapshot", async () => {
    const s = await setup();
    const cases: [string, unknown, number, string][] = [
      ["/api/vms/web1/snapshot", { to: "x", now: true }, 400, "E_INVALID_PARAMS"],
      ["/api/vms/web1/snapshot", { to: "x", resume: true, stop: true }, 400, "E_INVALID_PARAMS"],
      ["/api/vms/web1/snapshot", { to: 3 }, 400, "E_INVALID_PARAMS"],
      ["/api/vms/web1/snapshot", "not json", 400, "E_BAD_REQUEST"],
      ["/api/vms/novmm/snapshot", { to: "x" }, 404, "E_NOT_FOUND"],
      ["/api/vms/nope/snapshot", { to: "x" }, 404, "E_NOT_FOUND"],
      ["/api/vms/web1/restore", { from: "x", to: "y" }, 400, "E_INVALID_PARAMS"],
    ];
    for (const [path, body, status, code] of cases) {
      const r = await s.post(path, body);
      expect(r.status).toBe(status);
      expect(((await r.json()) as { code: string }).code).toBe(code);
    }
    expect((await s.post("/api/vms/web1/snapshot", { to: "x" })).status).toBe(200);
    const again = await s.post("/api/vms/web1/snapshot?stream=1", { to: "x" });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { code: string }).code).toBe("E_EXISTS");
    expect((await s.post("/api/vms/web1/snapshot", { to: "x", overwrite: true })).status).toBe(200);

    const off = await setup({ booted: true }, { root: false });
    const r = await off.post("/api/vms/web1/snapshot", { to: "x" });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { message: string }).message).toContain("start it with --snapshot-dir ROOT");
  });

  test("a VMM failure: 502 with the VMM's code and the step in data; as events, an error event; the VM runs, the agent is awake", async () => {
    const s = await setup({ booted: true, fail: (c) => (callIs("PUT /snapshot/create")(c) ? { status: 400, fault: "No space left on device" } : undefined) });
    const r = await s.post("/api/vms/web1/snapshot", { to: "x" });
    expect(r.status).toBe(502);
    const e = (await r.json()) as { code: string; message: string; data: { step: string; steps: { step: string }[] } };
    expect(e.code).toBe("E_VMM_REFUSED");
    expect(e.data.step).toBe("write");
    expect(e.message).toContain("snapshot of web1 failed at step write");
    expect(e.data.steps.map((x) => x.step).slice(-2)).toEqual(["recover", "wake"]);
    const st = await s.post("/api/vms/web1/snapshot?stream=1", { to: "y" });
    const events = await readSse(st);
    const last = events.at(-1)!;
    expect(last.event).toBe("error");
    expect(JSON.parse(last.data)).toMatchObject({ code: "E_VMM_REFUSED", status: 502, data: { step: "write" } });
    expect(s.fc.state).toBe("Running");
    expect(await s.agent.state()).toBe("running");
  });

  test("one operation per VM at a time (409 E_BUSY), and a client that leaves does not stop it half-way", async () => {
    let held = 0;
    const s = await setup({ booted: true, hang: (c) => callIs("PUT /snapshot/create")(c) && held++ === 0 });
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: s.bridge.fetch });
    open.push({ close: () => server.stop(true) });
    const ac = new AbortController();
    const res = await fetch(`http://127.0.0.1:${server.port}/api/vms/web1/snapshot`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ to: "held" }),
      signal: ac.signal,
    });
    // Read until the write has started, then go away.
    await readSse(res, (evs) => evs.some((e) => e.event === "step" && JSON.parse(e.data).step === "write"));
    const busy = await s.post("/api/vms/web1/snapshot", { to: "other" });
    expect(busy.status).toBe(409);
    expect(((await busy.json()) as { code: string }).code).toBe("E_BUSY");
    ac.abort();
    s.fc.release();
    await waitFor(() => existsSync(join(s.root, "held", "manifest.json")), 10_000, "the manifest of the abandoned request");
    await waitFor(async () => (await s.agent.state()) === "running", 10_000, "the agent to be woken");
    expect(s.fc.state).toBe("Running");
    await waitFor(async () => (await s.post("/api/vms/web1/snapshot", { to: "after" })).status === 200, 10_000, "the VM to be free again");
  });
});

test("three snapshots of one VM at once: one runs; the other two are 409 E_BUSY before they touch anything", async () => {
  const calls: string[] = [];
  const s = await setup({ booted: true }, { calls });
  const answers = await Promise.all(["one", "two", "three"].map((to) => s.post("/api/vms/web1/snapshot", { to })));
  const statuses = answers.map((r) => r.status).sort();
  expect(statuses).toEqual([200, 409, 409]);
  for (const r of answers.filter((r) => r.status === 409)) expect(((await r.json()) as { code: string }).code).toBe("E_BUSY");
  // The losers made no directory, and sent the agent nothing: one sleep-prep, one wake (the winner's).
  expect(readdirSync(s.root).length).toBe(1);
  expect(calls.filter((t) => t === "sleep-prep")).toHaveLength(1);
  expect(calls.filter((t) => t === "wake")).toHaveLength(1);
  // And the guard is released on every path: the VM takes the next one.
  expect((await s.post("/api/vms/web1/snapshot", { to: "four" })).status).toBe(200);
  const refused = await s.post("/api/vms/web1/snapshot", { to: "four" }); // E_EXISTS, after the guard was taken
  expect(refused.status).toBe(409);
  expect((await s.post("/api/vms/web1/snapshot", { to: "five", resume: true, stop: true })).status).toBe(400);
  expect((await s.post("/api/vms/web1/snapshot", { to: "five" })).status).toBe(200);
});

describe("restore", () => {
  test("into a fresh Firecracker: the report; a damaged snapshot is 422 and nothing is loaded", async () => {
    const s = await setup();
    expect((await s.post("/api/vms/web1/snapshot", { to: "r", stop: true })).status).toBe(200);
    await s.fc.stop();
    const fresh = await FakeFirecracker.start(join(tmp.path, `fresh-${n}.sock`));
    open.push({ close: () => fresh.stop() });
    s.vms[0] = { ...s.vms[0]!, vmm: { kind: "firecracker", api: fresh.socket } };

    const mem = readdirSync(join(s.root, "r")).find((f) => f.endsWith(".memory"))!;
    const saved = await Bun.file(join(s.root, "r", mem)).bytes();
    writeFileSync(join(s.root, "r", mem), "x");
    const bad = await s.post("/api/vms/web1/restore", { from: "r" });
    expect(bad.status).toBe(422);
    const e = (await bad.json()) as { code: string; data: { step: string } };
    expect(e.code).toBe("E_BAD_SNAPSHOT");
    expect(e.data.step).toBe("check");
    expect(fresh.calls).toEqual([]);

    writeFileSync(join(s.root, "r", mem), saved);
    const r = await s.post("/api/vms/web1/restore?stream=1", { from: "r" });
    const events = await readSse(r);
    expect(events.filter((x) => x.event === "step" && JSON.parse(x.data).status === "ok").map((x) => JSON.parse(x.data).step)).toEqual(["check", "load", "wake", "health"]);
    const report = JSON.parse(events.at(-1)!.data);
    matches(RestoreReportSchema, report);
    expect(report.wake.was_sleeping).toBe(true);
    expect(fresh.state).toBe("Running");
  });
});

describe("the dashboard's way in", () => {
  test("a Snapshot button only for VMs with a vmm, and only with --snapshot-dir; the page and its script", async () => {
    const s = await setup();
    const home = await (await s.bridge.app.request("/")).text();
    expect(home).toContain('href="/vms/web1/snapshot"');
    expect(home).not.toContain('href="/vms/novmm/snapshot"');
    const page = await s.bridge.app.request("/vms/web1/snapshot");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<script src="/assets/snapshot.js"></script>');
    expect(html).not.toMatch(/<script>(?!<\/script>)/); // no inline script
    expect((await s.bridge.app.request("/vms/novmm/snapshot")).status).toBe(404);
    expect((await s.bridge.app.request("/vms/nope/snapshot")).status).toBe(404);
    const js = await s.bridge.app.request("/assets/snapshot.js");
    expect(js.headers.get("content-type")).toContain("text/javascript");
    expect(await js.text()).toContain('"Content-Type": "application/json"');

    const off = await setup({ booted: true }, { root: false });
    expect(await (await off.bridge.app.request("/")).text()).not.toContain("/snapshot");
    expect((await off.bridge.app.request("/vms/web1/snapshot")).status).toBe(403);
  });
});

describe("/openapi.json and mvmctl serve --snapshot-dir", () => {
  test("both routes are documented with their bodies, events and extra errors", async () => {
    const s = await setup();
    const doc = (await (await s.bridge.app.request("/openapi.json")).json()) as { paths: Record<string, { post: { requestBody: unknown; responses: Record<string, { content?: Record<string, unknown> }> } }> };
    for (const p of ["/api/vms/{name}/snapshot", "/api/vms/{name}/restore"]) {
      const op = doc.paths[p]!.post;
      expect(op.requestBody).toBeDefined();
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["200", "400", "403", "404", "409", "422", "502", "504"]));
      expect(Object.keys(op.responses["200"]!.content!)).toEqual(["application/json", "text/event-stream"]);
    }
  });

  test("a --snapshot-dir that is not a directory: exit 2 with a message", async () => {
    const err: string[] = [];
    const code = await serveBridge({ port: 0, snapshotDir: join(tmp.path, "nope") }, { stdout: () => {}, stderr: (t) => err.push(t) });
    expect(code).toBe(2);
    expect(err.join("")).toContain("--snapshot-dir: ");
    expect(err.join("")).toContain("is not an existing directory");
  });
});
