// The whole loop against the fake Firecracker and a real agent: call order and bodies, and what happens when each call fails.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, linkSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, waitFor } from "../../../agent/testing.ts";
import { AgentClient } from "../agent-client.ts";
import { callIs, FakeFirecracker, type FakeFirecrackerOptions } from "../vmm/fake-firecracker.ts";
import { FirecrackerDriver } from "../vmm/firecracker-driver.ts";
import { rejectsWith } from "../vmm/testing.ts";
import { readManifest } from "./manifest.ts";
import { restoreSnapshot } from "./restore.ts";
import { takeSnapshot, type SnapshotRequest } from "./snapshot.ts";
import { LoopError, type StepEvent } from "./steps.ts";
import { loopAgent, type LoopAgent } from "../../testing.ts";

const d = tempDir("mvm-fc-loop-");
afterAll(() => d.cleanup());
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});
let n = 0;
const NOW = Date.parse("2026-11-28T10:00:00.000Z");

async function setup(fcOpts: FakeFirecrackerOptions = { booted: true }, agentOpts: Parameters<typeof loopAgent>[0] = {}) {
  const id = ++n;
  const fc = await FakeFirecracker.start(join(d.path, `fc-${id}.sock`), fcOpts);
  const agent = await loopAgent(agentOpts);
  open.push({ close: () => fc.stop() }, agent);
  const events: StepEvent[] = [];
  const req = (over: Partial<SnapshotRequest> = {}): SnapshotRequest => ({
    vm: "web1",
    vmm: new FirecrackerDriver(fc.socket, { callTimeoutMs: 2000 }),
    agent: agent.call,
    dir: join(d.path, `snap-${id}`),
    then: "resume",
    callTimeoutMs: 2000,
    now: () => NOW,
    onStep: (e) => events.push(e),
    sleep: async () => {},
    ...over,
  });
  return { fc, agent, events, req, dir: join(d.path, `snap-${id}`) };
}


const mutating = (fc: FakeFirecracker) => fc.calls.filter((c) => c.method !== "GET").map((c) => `${c.method} ${c.path}${(c.body as { state?: string })?.state ? ` ${(c.body as { state: string }).state}` : ""}`);

describe("snapshot", () => {
  test("--resume: check, sleep-prep, PATCH /vm Paused, PUT /snapshot/create Full, PATCH /vm Resumed, wake, manifest; each step streamed as it starts and ends", async () => {
    const { fc, agent, events, req, dir } = await setup();
    const r = await takeSnapshot(req());
    expect(mutating(fc)).toEqual(["PATCH /vm Paused", "PUT /snapshot/create", "PATCH /vm Resumed"]);
    const create = fc.calls.find((c) => c.path === "/snapshot/create")!.body as Record<string, string>;
    expect(Object.keys(create).sort()).toEqual(["mem_file_path", "snapshot_path", "snapshot_type"]);
    expect(create.snapshot_type).toBe("Full");
    expect(r.steps.map((s) => s.step)).toEqual(["check", "sleep-prep", "pause", "write", "resume", "wake", "manifest"]);
    expect(r.steps.every((s) => s.ok && s.ms >= 0)).toBe(true);
    expect(events.map((e) => `${e.step}:${e.status}`)).toEqual(r.steps.flatMap((s) => [`${s.step}:running`, `${s.step}:ok`]));
    // The real agent ran its checkpoint, then its restore on wake, and runs again.
    expect(agent.marker("checkpoint")).toBe("checkpointed");
    expect(agent.marker("restore")).toBe("restored");
    expect(await agent.state()).toBe("running");
    expect(fc.state).toBe("Running");
    // The manifest: VM, VMM, agent, time, both files with their sizes and sha256.
    const m = readManifest(dir);
    expect(m).toEqual(r.manifest);
    expect(m).toMatchObject({ format: "mvm-snapshot/1", vm: "web1", vmm: { kind: "firecracker", version: "1.10.1" }, agent: { build: "dev" }, created_at: "2026-11-28T10:00:00.000Z" });
    expect(m.files.map((f) => f.role)).toEqual(["vmstate", "memory"]);
    expect(m.files[1]!.size).toBe(256 * 1024);
    expect(join(dir, m.files[0]!.name)).toBe(create.snapshot_path!);
    expect(join(dir, m.files[1]!.name)).toBe(create.mem_file_path!);
  });

  test("--stop: the VM stays Paused and the agent asleep; a fresh Firecracker restores it: PUT /snapshot/load with resume_vm, then wake and health", async () => {
    const { fc, agent, req, dir } = await setup();
    const r = await takeSnapshot(req({ then: "stop" }));
    expect(r.steps.map((s) => s.step)).toEqual(["check", "sleep-prep", "pause", "write", "stop", "manifest"]);
    expect(mutating(fc)).toEqual(["PATCH /vm Paused", "PUT /snapshot/create"]);
    expect(fc.state).toBe("Paused");
    expect(await agent.state()).toBe("sleeping");
    expect(agent.marker("restore")).toBeNull();
    await fc.stop();

    const fresh = await FakeFirecracker.start(join(d.path, `fresh-${n}.sock`));
    open.push({ close: () => fresh.stop() });
    const events: StepEvent[] = [];
    const rr = await restoreSnapshot({
      vm: "web1",
      vmm: new FirecrackerDriver(fresh.socket),
      agent: agent.call,
      dir,
      callTimeoutMs: 2000,
      now: () => NOW + 3_600_000,
      onStep: (e) => events.push(e),
      sleep: async () => {},
    });
    expect(rr.steps.map((s) => s.step)).toEqual(["check", "load", "wake", "health"]);
    expect(mutating(fresh)).toEqual(["PUT /snapshot/load"]);
    expect(fresh.calls.find((c) => c.method === "PUT")!.body).toEqual({
      snapshot_path: join(dir, r.manifest.files[0]!.name),
      mem_backend: { backend_type: "File", backend_path: join(dir, r.manifest.files[1]!.name) },
      resume_vm: true,
    });
    expect(fresh.state).toBe("Running");
    expect(rr.wake.was_sleeping).toBe(true);
    // The wake carried the host's clock: the agent measured the skew (it may not set it here).
    expect(rr.wake.clock_skew_ms).not.toBeNull();
    expect(agent.marker("restore")).toBe("restored");
    expect(rr.state).toBe("running");
    expect(rr.health).toEqual({ ready: true, integrations: [{ name: "app", status: "unchecked" }] });
    expect(rr.failed_restores).toEqual([]);
    expect(events.filter((e) => e.status !== "running").map((e) => e.step)).toEqual(["check", "load", "wake", "health"]);
  });

  test("a directory that already holds a snapshot is refused before anything runs; with overwrite the new one replaces it whole", async () => {
    const { fc, agent, req, dir } = await setup();
    const first = await takeSnapshot(req());
    const before = fc.calls.length;
    const e = await rejectsWith(takeSnapshot(req()), LoopError);
    expect(e.step).toBe("check");
    expect(e.message).toContain("already holds a snapshot (manifest.json)");
    expect(fc.calls.length).toBe(before);
    expect(readManifest(dir)).toEqual(first.manifest);
    const second = await takeSnapshot(req({ overwrite: true }));
    expect(second.steps.at(-1)!.detail).toContain("replaced the old snapshot (2 files removed)");
    const names = readdirSync(dir).sort();
    expect(names).toEqual(["manifest.json", ...second.manifest.files.map((f) => f.name)].sort());
    expect(await agent.state()).toBe("running");
  });
});

describe("snapshot failures: the step is named, the VM runs again, the agent is woken, nothing half-written is left", () => {
  const cases: { name: string; opts: FakeFirecrackerOptions; step: string; code: string }[] = [
    { name: "PATCH /vm Paused refused", opts: { booted: true, fail: (c) => (callIs("PATCH /vm", "Paused")(c) ? { status: 400, fault: "cannot pause" } : undefined) }, step: "pause", code: "E_VMM_REFUSED" },
    { name: "PUT /snapshot/create refused", opts: { booted: true, fail: (c) => (callIs("PUT /snapshot/create")(c) ? { status: 400, fault: "No space left on device" } : undefined) }, step: "write", code: "E_VMM_REFUSED" },
    { name: "PUT /snapshot/create hangs", opts: { booted: true, hang: callIs("PUT /snapshot/create") }, step: "write", code: "E_VMM_TIMEOUT" },
    { name: "PATCH /vm Paused hangs", opts: { booted: true, hang: callIs("PATCH /vm", "Paused") }, step: "pause", code: "E_VMM_TIMEOUT" },
  ];
  for (const c of cases)
    test(c.name, async () => {
      const { fc, agent, req, dir } = await setup(c.opts);
      const e = await rejectsWith(takeSnapshot(req({ writeTimeoutMs: 300, callTimeoutMs: 300, vmm: new FirecrackerDriver(fc.socket, { callTimeoutMs: 300 }) })), LoopError);
      expect(e.step).toBe(c.step);
      expect((e.cause as { code: string }).code).toBe(c.code);
      expect(e.message).toStartWith(`snapshot of web1 failed at step ${c.step}: Firecracker `);
      expect(e.message).toContain("; the VM runs again (");
      expect(e.message).toContain("; the agent was woken");
      expect(e.steps.map((s) => s.step).slice(-2)).toEqual(["recover", "wake"]);
      expect(fc.state).toBe("Running");
      expect(await agent.state()).toBe("running");
      expect(agent.marker("restore")).toBe("restored");
      expect(existsSync(dir)).toBe(false); // created for this snapshot, removed with it
    });

  test("the agent is not ready (a critical checkpoint fails): woken, and the VMM is never paused", async () => {
    const { fc, agent, req, dir } = await setup({ booted: true }, { checkpoint: "echo disk full >&2; exit 3" });
    const e = await rejectsWith(takeSnapshot(req()), LoopError);
    expect(e.step).toBe("sleep-prep");
    expect(e.message).toContain("the guest is not ready for a snapshot: NOT READY");
    expect(e.message).toContain("checkpoint:app FAILED");
    expect(e.message).toContain("the agent was woken");
    expect(mutating(fc)).toEqual([]);
    expect(await agent.state()).toBe("running");
    expect(existsSync(dir)).toBe(false);
  });

  test("the VMM is not running, or cannot be reached: refused at check, before sleep-prep", async () => {
    const { agent, req } = await setup({ booted: false });
    const e = await rejectsWith(takeSnapshot(req()), LoopError);
    expect(e.step).toBe("check");
    expect(e.message).toContain("the VM is not running (firecracker says Not started)");
    expect(agent.marker("checkpoint")).toBeNull();
    const gone = await rejectsWith(takeSnapshot(req({ vmm: new FirecrackerDriver(join(d.path, "nothing.sock")) })), LoopError);
    expect(gone.step).toBe("check");
    expect((gone.cause as { code: string }).code).toBe("E_VMM_UNREACHABLE");
    expect(await agent.state()).toBe("running");
  });

  test("resume fails after the write: the snapshot is whole (manifest written), and the error says so", async () => {
    const { fc, req, dir } = await setup({ booted: true, fail: (c) => (callIs("PATCH /vm", "Resumed")(c) ? { status: 400, fault: "resume failed" } : undefined) });
    const e = await rejectsWith(takeSnapshot(req()), LoopError);
    expect(e.step).toBe("resume");
    expect(e.message).toContain(`snapshot of web1 is whole in ${dir}, but step resume failed`);
    expect(e.steps.map((s) => s.step)).toEqual(["check", "sleep-prep", "pause", "write", "resume", "manifest"]);
    expect(readManifest(dir).files).toHaveLength(2);
    expect(fc.state).toBe("Paused");
  });
});

describe("two loops on one VM in one process", () => {
  /** The agent calls a loop makes, by type. */
  const counting = (call: SnapshotRequest["agent"], seen: string[]): SnapshotRequest["agent"] => (type, params, o) => (seen.push(type), call(type, params, o));

  test("two snapshots at once: one runs, the other is refused at check (E_BUSY) before it makes a directory or calls the agent", async () => {
    const { agent, req, dir } = await setup();
    const calls: [string[], string[]] = [[], []];
    const results = await Promise.allSettled([0, 1].map((i) => takeSnapshot(req({ dir: `${dir}-${i}`, agent: counting(agent.call, calls[i]!) }))));
    const ok = results.findIndex((r) => r.status === "fulfilled");
    expect(ok).toBeGreaterThanOrEqual(0);
    const lost = results[1 - ok] as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(LoopError);
    expect(lost.reason).toMatchObject({ step: "check", cause: { code: "E_BUSY" } });
    expect(existsSync(`${dir}-${1 - ok}`)).toBe(false);
    expect(calls[1 - ok]).toEqual([]);
    expect(calls[ok]!.filter((t) => t === "wake")).toHaveLength(1);
    // Released on every path: the next one runs.
    expect((await takeSnapshot(req({ dir: `${dir}-2` }))).steps.at(-1)!.step).toBe("manifest");
    await rejectsWith(takeSnapshot(req({ dir: `${dir}-2` })), LoopError); // refused at check (a snapshot is there): released too
    expect((await takeSnapshot(req({ dir: `${dir}-3` }))).steps.at(-1)!.step).toBe("manifest");
  });

  test("a sleep-prep the agent refuses as busy (another host process prepares it): no wake is sent, so that one is not broken", async () => {
    const { agent, req, dir } = await setup({ booted: true }, { checkpoint: "sleep 1" });
    const other = agent.call("sleep-prep", {}, { timeoutMs: 10_000 }); // someone else's snapshot, in progress
    await waitFor(async () => (await agent.state()) === "preparing", 10_000, "the other sleep-prep running");
    const seen: string[] = [];
    const e = await rejectsWith(takeSnapshot(req({ dir, agent: counting(agent.call, seen) })), LoopError);
    expect(e).toMatchObject({ step: "sleep-prep", cause: { code: "E_BUSY" } });
    expect(seen).not.toContain("wake");
    expect(((await other) as { ready: boolean }).ready).toBe(true);
    expect(await agent.state()).toBe("sleeping"); // still the other's: it wakes its guest itself
    await agent.call("wake", {}, { timeoutMs: 10_000 });
  });
});

test("a directory that was there before stays, empty, after a failed snapshot", async () => {
  const { req, dir } = await setup({ booted: true, fail: (c) => (callIs("PUT /snapshot/create")(c) ? { status: 400, fault: "disk full" } : undefined) });
  mkdirSync(dir);
  writeFileSync(join(dir, "notes.txt"), "mine");
  const e = await rejectsWith(takeSnapshot(req()), LoopError);
  expect(e.step).toBe("write");
  expect(readdirSync(dir)).toEqual(["notes.txt"]);
});

describe("restore failures", () => {
  test("into a Firecracker that was already started: refused at check, nothing loaded", async () => {
    const { req, dir, agent } = await setup();
    await takeSnapshot(req({ then: "stop" }));
    const booted = await FakeFirecracker.start(join(d.path, `booted-${n}.sock`), { booted: true });
    open.push({ close: () => booted.stop() });
    const e = await rejectsWith(restoreSnapshot({ vm: "web1", vmm: new FirecrackerDriver(booted.socket), agent: agent.call, dir, callTimeoutMs: 2000, now: () => NOW }), LoopError);
    expect(e.step).toBe("check");
    expect(e.message).toContain("Firecracker is not a fresh process (state Running)");
    expect(e.message).toContain("nothing was loaded");
    expect(mutating(booted)).toEqual([]);
  });

  test("a Firecracker whose socket appears only after the restore started: check asks again until it is there", async () => {
    const { req, dir, agent } = await setup();
    await takeSnapshot(req({ then: "stop" }));
    const path = join(d.path, `slow-${n}.sock`);
    let fresh: FakeFirecracker | null = null;
    const r = await restoreSnapshot({
      vm: "web1",
      vmm: new FirecrackerDriver(path),
      agent: agent.call,
      dir,
      callTimeoutMs: 5000,
      now: () => NOW,
      sleep: async () => {
        fresh ??= await FakeFirecracker.start(path);
      },
    });
    open.push({ close: () => fresh!.stop() });
    expect(r.steps.map((s) => s.step)).toEqual(["check", "load", "wake", "health"]);
    expect(fresh!.callNames).toContain("PUT /snapshot/load");
  });

  test("a load Firecracker refuses: step load named; wake is not sent", async () => {
    const { req, dir, agent } = await setup();
    await takeSnapshot(req({ then: "stop" }));
    const fresh = await FakeFirecracker.start(join(d.path, `refuse-${n}.sock`), { fail: (c) => (callIs("PUT /snapshot/load")(c) ? { status: 400, fault: "Load snapshot error: bad version" } : undefined) });
    open.push({ close: () => fresh.stop() });
    const e = await rejectsWith(restoreSnapshot({ vm: "web1", vmm: new FirecrackerDriver(fresh.socket), agent: agent.call, dir, callTimeoutMs: 2000, now: () => NOW }), LoopError);
    expect(e.step).toBe("load");
    expect(e.message).toContain("Firecracker PUT /snapshot/load: 400: Load snapshot error: bad version");
    expect(e.steps.map((s) => s.step)).toEqual(["check", "load"]);
    expect(await agent.state()).toBe("sleeping");
  });

  test("the restored agent comes back late: wake is sent again until it answers", async () => {
    const { req, dir, agent } = await setup();
    await takeSnapshot(req({ then: "stop" }));
    const fresh = await FakeFirecracker.start(join(d.path, `late-${n}.sock`));
    open.push({ close: () => fresh.stop() });
    // The first attempts find no socket (as while a restored guest's agent comes back); at the third
    // wait between attempts the socket appears (a hard link to the real agent's).
    const path = join(d.path, `late-agent-${n}.sock`);
    const client = new AgentClient(`unix:${path}`, { timeoutMs: 2000 });
    open.push(client);
    let waits = 0;
    let calls = 0;
    const call: typeof agent.call = (type, params, o) => {
      calls++;
      return client.call(type, params, o);
    };
    const sleep = async () => {
      if (++waits === 3) linkSync(agent.agent.socket, path);
    };
    const r = await restoreSnapshot({ vm: "web1", vmm: new FirecrackerDriver(fresh.socket), agent: call, dir, callTimeoutMs: 2000, now: () => NOW, sleep });
    expect(waits).toBe(3);
    expect(calls).toBeGreaterThanOrEqual(4);
    expect(r.steps.find((s) => s.step === "wake")!.detail).toContain("(4 attempts)");
    expect(r.wake.was_sleeping).toBe(true);
  });

  test("an agent that never comes back: step wake fails at its deadline, and the message says the VM runs", async () => {
    const { req, dir, agent } = await setup();
    await takeSnapshot(req({ then: "stop" }));
    const fresh = await FakeFirecracker.start(join(d.path, `never-${n}.sock`));
    open.push({ close: () => fresh.stop() });
    const nobody = new AgentClient(`unix:${join(d.path, "no-agent.sock")}`);
    open.push(nobody);
    const e = await rejectsWith(
      restoreSnapshot({ vm: "web1", vmm: new FirecrackerDriver(fresh.socket), agent: (t, p, o) => nobody.call(t, p, o), dir, callTimeoutMs: 50, wakeTimeoutMs: 200, now: () => NOW }),
      LoopError,
    );
    expect(e.step).toBe("wake");
    expect((e.cause as { code: string }).code).toBe("E_SOCKET_MISSING");
    expect(e.message).toContain("the VM runs, but its agent was not woken: run mvmctl wake");
    expect(fresh.state).toBe("Running");
    void agent;
  });
});
