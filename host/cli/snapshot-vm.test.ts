// mvmctl snapshot / restore: output (lines, TTY, --json), exit codes, usage errors, against the fake Firecracker and a real agent.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { tempDir, waitFor } from "../../agent/testing.ts";
import { callIs, FakeFirecracker, type FakeFirecrackerOptions } from "../client/vmm/fake-firecracker.ts";
import { runCli } from "./run.ts";
import { loopAgent, type LoopAgent, memoryIO, mvmctl } from "../testing.ts";

const d = tempDir("mvmctl-snapshot-");
afterAll(() => d.cleanup());
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});
let n = 0;

/** A VM named web1: a real agent, a fake Firecracker, a vms.json naming both (plus a VM without vmm). */
async function vm(fcOpts: FakeFirecrackerOptions = { booted: true }, agentOpts: Parameters<typeof loopAgent>[0] = {}) {
  const id = ++n;
  const fc = await FakeFirecracker.start(join(d.path, `fc-${id}.sock`), fcOpts);
  const agent = await loopAgent(agentOpts);
  open.push({ close: () => fc.stop() }, agent);
  const vmsFile = join(d.path, `vms-${id}.json`);
  const write = (api: string) =>
    writeFileSync(vmsFile, JSON.stringify({ vms: [{ name: "web1", agent: agent.address, vmm: { kind: "firecracker", api } }, { name: "plain", agent: agent.address }] }));
  write(fc.socket);
  return { fc, agent, vmsFile, dir: join(d.path, `snap-${id}`), repoint: write, run: (...argv: string[]) => mvmctl(["--vms", vmsFile, ...argv], { env: { NO_COLOR: "1" } }) };
}

describe("mvmctl snapshot", () => {
  test("plain lines: a header, one line per step with its time, a closing line; exit 0", async () => {
    const v = await vm();
    const r = await v.run("snapshot", "web1", "--to", v.dir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`web1: snapshot to ${v.dir} through firecracker api:${v.fc.socket}, then resume`);
    expect(lines.slice(1, -1).map((l) => l.trim().split(/\s+/).slice(0, 2).join(" "))).toEqual(["ok check", "ok sleep-prep", "ok pause", "ok write", "ok resume", "ok wake", "ok manifest"]);
    for (const l of lines.slice(1, -1)) expect(l).toMatch(/^ {2}ok {4}\S+ +\d+(\.\d)? (ms|s) {2}\S/);
    expect(lines.at(-1)).toStartWith(`web1: ok: snapshot in ${v.dir} (2 files, 256 KiB) in `);
    expect(lines.at(-1)).toEndWith("; the VM runs");
    expect(r.stdout).not.toContain("\r");
  });

  test("--json: one document at the end and nothing else; --stop leaves the VM paused", async () => {
    const v = await vm();
    const r = await v.run("snapshot", "web1", "--to", v.dir, "--stop", "--json");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc).sort()).toEqual(["dir", "duration_ms", "manifest", "steps", "then", "vm", "vmm"]);
    expect(doc).toMatchObject({ vm: "web1", vmm: "firecracker", dir: v.dir, then: "stop" });
    expect(doc.steps.map((s: { step: string }) => s.step)).toEqual(["check", "sleep-prep", "pause", "write", "stop", "manifest"]);
    expect(v.fc.state).toBe("Paused");
  });

  test("on a terminal each running step has a line that is rewritten when it ends", async () => {
    const v = await vm();
    const r = await mvmctl(["--vms", v.vmsFile, "snapshot", "web1", "--to", v.dir], { tty: true, env: {} });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("\r\x1b[2K");
    expect(r.stdout).toContain("\x1b[32mok\x1b[0m");
    expect(r.stdout.match(/\r\x1b\[2K/g)?.length).toBe(7);
  });

  test("a relative --to is taken from the working directory", async () => {
    const v = await vm();
    const rel = relative(process.cwd(), v.dir);
    expect(rel).not.toStartWith("/");
    const r = await v.run("snapshot", "web1", "--to", rel, "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).dir).toBe(v.dir);
  });

  test("usage errors (exit 2) before anything happens: missing --to, both --resume and --stop, no vmm, control characters in DIR", async () => {
    const v = await vm();
    const cases: [string[], string][] = [
      [["snapshot", "web1"], "snapshot: --to DIR is required"],
      [["snapshot", "web1", "--to", v.dir, "--resume", "--stop"], "--resume and --stop exclude each other"],
      [["snapshot", "plain", "--to", v.dir], 'VM plain has no vmm in vms.json: add "vmm"'],
      [["snapshot", "web1", "--to", `${v.dir}\n-evil`], "--to: the path holds control characters: "],
      [["snapshot", "web1", "--to", `${v.dir}\u001b]0;title\u0007`], "control characters"],
      [["snapshot", "web1", "--to", v.dir, "--write-timeout", "0"], "snapshot: --write-timeout expects seconds above 0"],
      [["restore", "web1"], "restore: --from DIR is required"],
      [["snapshot", "nope", "--to", v.dir], 'no VM named "nope"'],
    ];
    for (const [argv, want] of cases) {
      const r = await v.run(...argv);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(want);
      expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    }
    expect(v.fc.calls).toEqual([]);
    expect(v.agent.marker("checkpoint")).toBeNull();
    expect(existsSync(v.dir)).toBe(false);
  });

  test("a VMM failure: exit 6, the step named on stderr, --json prints nothing, the VM runs and the agent is awake", async () => {
    const v = await vm({ booted: true, fail: (c) => (callIs("PUT /snapshot/create")(c) ? { status: 400, fault: "No space left on device" } : undefined) });
    const r = await v.run("snapshot", "web1", "--to", v.dir, "--json");
    expect(r.code).toBe(6);
    expect(r.stdout).toBe("");
    expect(r.stderr).toStartWith("mvmctl: snapshot of web1 failed at step write: Firecracker PUT /snapshot/create: 400: No space left on device [E_VMM_REFUSED]; the VM runs again (PATCH /vm Resumed (was Paused)); the agent was woken");
    expect(v.fc.state).toBe("Running");
    expect(await v.agent.state()).toBe("running");
    expect(existsSync(v.dir)).toBe(false);
  });

  test("a guest that is not ready: exit 1, nothing written; an unreachable VMM: exit 6 at check", async () => {
    const v = await vm({ booted: true }, { checkpoint: "exit 3" });
    const r = await v.run("snapshot", "web1", "--to", v.dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("FAIL  sleep-prep");
    expect(r.stdout).toContain("ok    wake");
    expect(r.stderr).toContain("failed at step sleep-prep: the guest is not ready for a snapshot");
    v.repoint(join(d.path, "no-such-api.sock"));
    const gone = await v.run("snapshot", "web1", "--to", join(d.path, `gone-${n}`));
    expect(gone.code).toBe(6);
    expect(gone.stderr).toContain("failed at step check: Firecracker GET /: no socket at");
  });

  test("a DIR that holds a snapshot: exit 1 and untouched; --overwrite replaces it", async () => {
    const v = await vm();
    expect((await v.run("snapshot", "web1", "--to", v.dir)).code).toBe(0);
    const before = readdirSync(v.dir).sort();
    const again = await v.run("snapshot", "web1", "--to", v.dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already holds a snapshot (manifest.json); give another directory, or --overwrite");
    expect(readdirSync(v.dir).sort()).toEqual(before);
    const over = await v.run("snapshot", "web1", "--to", v.dir, "--overwrite");
    expect(over.code).toBe(0);
    expect(readdirSync(v.dir).sort()).not.toEqual(before);
    expect(readdirSync(v.dir)).toHaveLength(3);
  });
});

test("the first Ctrl-C during a snapshot says why it goes on, and the snapshot finishes with the VM running", async () => {
  let held = 0;
  const v = await vm({ booted: true, hang: (c) => callIs("PUT /snapshot/create")(c) && held++ === 0 });
  const m = memoryIO({ env: { NO_COLOR: "1" } });
  const done = runCli(["--vms", v.vmsFile, "snapshot", "web1", "--to", v.dir], m.io, "9.9.9");
  await waitFor(() => v.fc.callNames.includes("PUT /snapshot/create"), 10_000, "the write to start");
  m.stop.abort(new Error("SIGINT"));
  expect(m.stderr).toContain("mvmctl: finishing the snapshot first (stopping half-way could leave the VM paused); Ctrl-C again to leave at once");
  v.fc.release();
  expect(await done).toBe(0);
  expect(m.stdout).toContain("ok    manifest");
  expect(v.fc.state).toBe("Running");
});

describe("mvmctl restore", () => {
  async function stopped(): Promise<{ v: Awaited<ReturnType<typeof vm>>; fresh: FakeFirecracker }> {
    const v = await vm();
    expect((await v.run("snapshot", "web1", "--to", v.dir, "--stop")).code).toBe(0);
    await v.fc.stop();
    const fresh = await FakeFirecracker.start(join(d.path, `fresh-${n}.sock`));
    open.push({ close: () => fresh.stop() });
    v.repoint(fresh.socket);
    return { v, fresh };
  }

  test("into a fresh Firecracker: check, load, wake, health; plain lines and --json", async () => {
    const { v, fresh } = await stopped();
    const r = await v.run("restore", "web1", "--from", v.dir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`web1: restore from ${v.dir} through firecracker api:${fresh.socket}`);
    expect(lines.slice(1, -1).map((l) => l.trim().split(/\s+/).slice(0, 2).join(" "))).toEqual(["ok check", "ok load", "ok wake", "ok health"]);
    expect(lines.at(-1)).toMatch(/^web1: ok: restored in .+; agent running; health ready$/);
    expect(fresh.callNames.filter((c) => !c.startsWith("GET"))).toEqual(["PUT /snapshot/load"]);
    expect(v.agent.marker("restore")).toBe("restored");
  });

  test("--json: the report; a damaged snapshot is refused with exit 1 before anything is loaded", async () => {
    const { v, fresh } = await stopped();
    const mem = readdirSync(v.dir).find((f) => f.endsWith(".memory"))!;
    writeFileSync(join(v.dir, mem), "tampered");
    const bad = await v.run("restore", "web1", "--from", v.dir, "--json");
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toContain(`failed at step check: `);
    expect(bad.stderr).toContain(`${mem} (memory) is 8 bytes, the manifest says 262144`);
    expect(bad.stderr).toContain("nothing was loaded");
    expect(fresh.calls).toEqual([]);
  });

  test("a snapshot of another VM needs --other-vm", async () => {
    const { v } = await stopped();
    writeFileSync(v.vmsFile, JSON.stringify({ vms: [{ name: "web2", agent: v.agent.address, vmm: { kind: "firecracker", api: join(d.path, `fresh-${n}.sock`) } }] }));
    const r = await v.run("restore", "web2", "--from", v.dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('this is a snapshot of "web1", not of "web2" (--other-vm loads it anyway, as a clone)');
    const ok = await v.run("restore", "web2", "--from", v.dir, "--other-vm", "--json");
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).steps[0].detail).toContain("(a snapshot of web1)");
  });
});

describe("as a real child process", () => {
  test("bun host/cli/bin.ts snapshot and restore: plain lines on a pipe, exit codes", async () => {
    const v = await vm();
    const cli = resolve(import.meta.dir, "./bin.ts");
    const run = async (...argv: string[]) => {
      const p = Bun.spawn([process.execPath, cli, "--vms", v.vmsFile, ...argv], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { out, err, code };
    };
    const s = await run("snapshot", "web1", "--to", v.dir, "--stop");
    expect(s.err).toBe("");
    expect(s.code).toBe(0);
    expect(s.out).toContain("ok    manifest");
    await v.fc.stop();
    const fresh = await FakeFirecracker.start(join(d.path, `child-${n}.sock`));
    open.push({ close: () => fresh.stop() });
    v.repoint(fresh.socket);
    const r = await run("restore", "web1", "--from", v.dir, "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).wake.was_sleeping).toBe(true);
  });
});
