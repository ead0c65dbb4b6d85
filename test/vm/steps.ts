// The checks of issue 11, each against a booted guest through the host client over the virtio-serial socket.

import net from "node:net";
import { join, resolve } from "node:path";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { AgentClient } from "../../host/client/agent-client.ts";
import type { Vm } from "../../scripts/vm/qemu.ts";
import { assert, NotChecked, type Harness } from "./harness.ts";

const root = resolve(import.meta.dir, "../..");
const CALL_MS = 30_000;

type ExecResult = { exit_code: number | null; stdout: string; stderr: string; timed_out: boolean };
type Hello = { build: string; requests: string[]; plugins: string[] };

export function serialClient(vm: Vm): AgentClient {
  return new AgentClient(`qemu-serial:${vm.serialSocket}`, { timeoutMs: CALL_MS, connectTimeoutMs: 60_000 });
}

/** Run a shell command in the guest (dev build); throws with its output unless it exits 0. */
export async function sh(c: AgentClient, command: string): Promise<string> {
  const r = (await c.call("exec", { command, timeout_secs: 60 }, { timeoutMs: 90_000 })) as ExecResult;
  if (r.exit_code !== 0) throw new Error(`guest command failed (exit ${r.exit_code}${r.timed_out ? ", timed out" : ""}): ${command}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function needs(hello: Hello, ...types: string[]): void {
  const missing = types.filter((t) => !hello.requests.includes(t));
  if (missing.length) throw new NotChecked(`this build serves no ${missing.join(", ")} (plugins: ${hello.plugins.join(", ")})`);
}

/** Wait for the agent's "ready" console line, then for the first SYNC round trip. */
export async function waitForAgent(h: Harness, vm: Vm, build: "dev" | "prod", timeoutMs: number): Promise<AgentClient> {
  await h.until(`the agent's "ready (${build} build" console line`, timeoutMs, () => vm.consoleTail(400).includes(`ready (${build} build`), 500);
  const c = serialClient(vm);
  await c.call("ping", undefined, { timeoutMs: 60_000 });
  return c;
}

/**
 * A host session that our client must get past, as measured on real hosts: a host that retries
 * `CONNECT 52` every second while the guest boots (bytes written before the agent opens the port may be
 * lost; once it is up it answers `OK 52`), then leaves a line of junk and half a frame behind.
 */
export async function staleHostSession(h: Harness, vm: Vm, build: "dev" | "prod", bootMs: number): Promise<string> {
  const s = await new Promise<net.Socket>((res, rej) => {
    const sock = net.connect({ path: vm.serialSocket }, () => res(sock));
    sock.once("error", rej);
  });
  let got = "";
  let sent = 0;
  s.on("data", (d: Buffer) => void (got += d.toString("latin1")));
  s.on("error", () => {});
  const connect = () => void (s.write("CONNECT 52\n"), sent++);
  connect();
  const retry = setInterval(connect, 1000);
  try {
    await h.until(`the agent's "ready (${build} build" console line`, bootMs, () => vm.consoleTail(400).includes(`ready (${build} build`), 500);
    await h.until("an OK 52 line for the CONNECT lines", 30_000, () => got.includes("OK 52\n"), 250);
    clearInterval(retry);
    s.write("junk from an old host session\n");
    s.write(Buffer.from([0, 0, 0, 40, 0x7b, 0x22])); // half of a 40-byte frame, never finished
    await new Promise<void>((r) => s.end(r));
  } finally {
    clearInterval(retry);
    s.destroy();
  }
  return `${got.match(/OK 52\n/g)?.length ?? 0} OK 52 line(s) for ${sent} CONNECT lines retried during boot`;
}

/** Our client after a stale session: its SYNC gets through the junk and the half frame. */
export async function firstCall(vm: Vm): Promise<AgentClient> {
  const c = serialClient(vm);
  await c.call("ping", undefined, { timeoutMs: 60_000 });
  return c;
}

export async function stepInit(c: AgentClient, vm: Vm): Promise<string> {
  const con = vm.consoleTail(400);
  for (const want of ["mvm-init: overlay root ready (lower read-only)", "listening on serial:/dev/vport0p1", "listening on vsock:52"])
    assert(con.includes(want), `console lacks ${JSON.stringify(want)}`);
  const mounts = await sh(c, "cat /proc/mounts");
  const rootLine = mounts.split("\n").find((l) => / \/ overlay /.test(l));
  assert(rootLine && rootLine.includes("upperdir=/run/overlay/upper") && rootLine.includes("lowerdir=/run/overlay/lower"), `/ is not our overlay:\n${mounts}`);
  const lower = mounts.split("\n").find((l) => l.split(" ")[1] === "/run/overlay/lower");
  assert(lower && / ro[ ,]/.test(lower), `the lower is not mounted read-only: ${lower}`);
  const upper = mounts.split("\n").find((l) => l.split(" ")[1] === "/run/overlay");
  assert(upper && upper.startsWith("overlay-rw /run/overlay tmpfs "), `the upper is not a tmpfs: ${upper}`);
  await sh(c, "! touch /run/overlay/lower/should-fail 2>/dev/null");
  const page = await sh(c, "wget -q -O - http://127.0.0.1:8080/");
  assert(page.includes("<p>ok</p>"), `httpd served ${JSON.stringify(page)}`);
  await sh(c, "test -d /etc/mvm/integrations.d && test -d /etc/mvm/probes.d");
  return "overlay / (tmpfs upper, read-only lower), httpd on 127.0.0.1:8080, agent on serial + vsock:52";
}

export async function stepHello(h: Harness, c: AgentClient): Promise<{ detail: string; hello: Hello }> {
  const hello = (await c.call("hello")) as Hello;
  assert(hello.build === "dev", `hello.build is ${hello.build}, expected dev`);
  needs(hello, "health", "probes", "worker-status");
  const health = await h.until("health to become ready", 90_000, async () => {
    const r = (await c.call("health")) as { ready: boolean; integrations: { name: string; status: string }[] };
    return r.ready && r.integrations.some((i) => i.name === "web" && i.status === "healthy") ? r : null;
  }, 1000);
  const probe = await h.until("the root-disk-usage probe to report", 60_000, async () => {
    const r = (await c.call("probes")) as { probes: { name: string; value: unknown; ok: boolean }[] };
    const p = r.probes.find((x) => x.name === "root-disk-usage");
    return p && p.ok && p.value !== null ? p : null;
  }, 1000);
  assert(typeof probe.value === "number", `probe value ${JSON.stringify(probe.value)} is not a number`);
  const worker = (await c.call("worker-status")) as { status?: string };
  assert(worker.status === "idle" || worker.status === "busy", `worker-status: ${JSON.stringify(worker)}`);
  return { hello, detail: `hello ${hello.plugins.length} plugins; health ready (${health.integrations.map((i) => `${i.name}=${i.status}`).join(", ")}); probe root-disk-usage=${probe.value}; worker ${worker.status}` };
}

export async function stepFsDiff(c: AgentClient, hello: Hello): Promise<string> {
  needs(hello, "exec", "fs-diff");
  await sh(c, "mkdir -p /srv/app && echo hello > /srv/app/new.txt && echo changed >> /etc/motd && rm /etc/vm-test/deleteme");
  const r = (await c.call("fs-diff", {})) as { upper_dir: string; changes: { path: string; kind: string; type: string }[]; next_cursor: string | null };
  const got = r.changes.map((x) => `${x.kind} ${x.type} ${x.path}`).sort();
  const want = ["created dir /srv", "created dir /srv/app", "created file /srv/app/new.txt", "deleted other /etc/vm-test/deleteme", "modified file /etc/motd"];
  const norm = (l: string[]) => l.map((x) => x.replace(/^deleted \S+ /, "deleted ")).sort();
  assert(JSON.stringify(norm(got)) === JSON.stringify(norm(want)), `fs-diff (upper ${r.upper_dir}) returned:\n  ${got.join("\n  ")}\nexpected exactly:\n  ${want.join("\n  ")}`);
  assert(r.next_cursor === null, "fs-diff paged a 5-entry answer");
  return `upper ${r.upper_dir}: ${got.length} changes, exactly the ones exec made`;
}

export async function stepVsock(c: AgentClient, hello: Hello): Promise<string> {
  needs(hello, "exec");
  const out = await sh(c, "/usr/local/bin/mvmctl --vms /etc/vm-test/vms.json --timeout 20 ping self 2>&1");
  assert(/self/.test(out), `mvmctl ping printed ${JSON.stringify(out)}`);
  return `in the guest, mvmctl ping over vsock:1:52: ${out.trim().split("\n")[0]}`;
}

type Step = { step: string; ok: boolean; ms: number; detail: string };
type WakeStep = { name: string; ok: boolean; detail: string };

/** Run mvmctl (from source) as a child process; its output comes back whole. */
async function mvmctl(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([process.execPath, "host/cli/bin.ts", ...argv], { cwd: root, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

/** A step's time as the suite prints it: `write 1.9 s`. */
const timing = (steps: Step[]) => steps.map((s) => `${s.step} ${s.ms < 1000 ? `${Math.round(s.ms)} ms` : `${(s.ms / 1000).toFixed(1)} s`}`).join(", ");

/**
 * Issue 21 in a real VM: `mvmctl snapshot --resume` (the guest keeps running), `mvmctl snapshot --stop`,
 * QEMU killed, a new QEMU with `-incoming defer`, `mvmctl restore`; then the guest's clock, the restore
 * command's marker, exec and health. mvmctl runs as a child process through a vms.json with a `vmm` entry;
 * its step lines (with their times) are printed into the suite's output.
 */
export async function stepSnapshot(h: Harness, vm: Vm, c: AgentClient, hello: Hello, say: (line: string) => void): Promise<{ detail: string; client: AgentClient }> {
  needs(hello, "sleep-prep", "wake");
  // QEMU serves one client at a time on the serial chardev and on QMP: mvmctl gets both.
  await c.close();
  vm.closeQmp();
  const vms = join(vm.opts.dir, "vms.json");
  writeFileSync(vms, JSON.stringify({ vms: [{ name: "dev", agent: `qemu-serial:${vm.serialSocket}`, vmm: { kind: "qemu", qmp: vm.qmpSocket } }] }));
  const base = ["--vms", vms, "--timeout", "30"];
  const show = (r: { out: string; err: string }) => say(`${r.out}${r.err}`.trimEnd().replace(/^/gm, "   | "));

  // 1. A snapshot that leaves the guest running (stop, migrate, cont, wake).
  const live = await mvmctl([...base, "snapshot", "dev", "--to", join(vm.opts.dir, "snap-live"), "--json"]);
  assert(live.code === 0, `mvmctl snapshot --resume exited ${live.code}: ${live.err}`);
  const liveReport = JSON.parse(live.out) as { steps: Step[] };
  say(`   snapshot --resume: ${timing(liveReport.steps)}`);
  assert(liveReport.steps.map((s) => s.step).join() === "check,sleep-prep,pause,write,resume,wake,manifest", `snapshot --resume steps: ${JSON.stringify(liveReport.steps)}`);
  rmSync(join(vm.opts.dir, "snap-live"), { recursive: true, force: true }); // several hundred MiB; the one below is restored

  // 2. The snapshot the VM is restored from: the VM stays paused, its agent asleep.
  const dir = join(vm.opts.dir, "snap");
  const snap = await mvmctl([...base, "snapshot", "dev", "--to", dir, "--stop"]);
  show(snap);
  assert(snap.code === 0, `mvmctl snapshot --stop exited ${snap.code}`);
  for (const want of ["ok    sleep-prep", "checkpoint:web ok", "ok    pause", "ok    write", "ok    stop", "ok    manifest"]) assert(snap.out.includes(want), `mvmctl snapshot printed no ${JSON.stringify(want)}`);
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { vmm: { kind: string; version: string }; files: { name: string; size: number }[] };
  assert(manifest.vmm.kind === "qemu" && manifest.files.length === 1 && statSync(join(dir, manifest.files[0]!.name)).size === manifest.files[0]!.size, `manifest: ${JSON.stringify(manifest)}`);
  await vm.kill();
  const killedAt = Date.now();

  // 3. A new QEMU waiting for state; mvmctl restore loads it, conts, wakes the agent with the host's clock.
  vm.start({ incoming: "defer" });
  await h.until("the new QEMU's QMP socket", 15_000, () => existsSync(vm.qmpSocket), 50);
  const restored = await mvmctl([...base, "restore", "dev", "--from", dir, "--json"]);
  assert(restored.code === 0, `mvmctl restore exited ${restored.code}: ${restored.err}`);
  const r = JSON.parse(restored.out) as {
    steps: Step[];
    wake: { was_sleeping: boolean; clock_skew_ms: number | null; clock_set: boolean; steps: WakeStep[] };
    state: string;
    health: { ready: boolean } | null;
  };
  say(`   restore: ${timing(r.steps)}`);
  for (const s of r.steps) say(`   | ${s.ok ? "ok  " : "FAIL"}  ${s.step.padEnd(8)} ${s.detail}`);
  assert(r.steps.map((s) => s.step).join() === "check,load,wake,health", `restore steps: ${JSON.stringify(r.steps)}`);
  assert(r.wake.was_sleeping, `wake: was_sleeping false: ${JSON.stringify(r.wake)}`);
  // The guest's clocks stood still from the pause to the cont (the end of load), so the skew wake measured
  // is at least the restore's check and load, less the time the guest ran before wake was handled (at most
  // the wake step's own time): a lower bound that holds however slow the machine is.
  const downMs = Date.now() - killedAt;
  const ms = (name: string) => r.steps.find((s) => s.step === name)!.ms;
  const frozen = ms("check") + ms("load") - ms("wake");
  assert(typeof r.wake.clock_skew_ms === "number" && r.wake.clock_skew_ms > 0 && r.wake.clock_skew_ms >= frozen, `wake: clock_skew_ms ${r.wake.clock_skew_ms}, expected at least ${Math.round(frozen)} (the guest's clock stood still while paused)`);
  assert(r.wake.clock_set, `wake: clock not set: ${JSON.stringify(r.wake.steps)}`);
  const restoreStep = r.wake.steps.find((s) => s.name === "restore:web");
  assert(restoreStep?.ok, `wake step restore:web: ${JSON.stringify(restoreStep ?? r.wake.steps)}`);
  assert(r.health !== null, "restore reported no health");

  const c2 = serialClient(vm);
  const guestNow = Number((await sh(c2, "date +%s")).trim());
  const drift = Math.abs(guestNow - Date.now() / 1000);
  assert(drift < 10, `guest clock is ${drift.toFixed(1)} s off the host after wake`);
  await sh(c2, "test -s /var/lib/vm-test/checkpoint.marker && test -s /var/lib/vm-test/restore.marker");
  await h.until("health to be ready again after wake", 90_000, async () => ((await c2.call("health")) as { ready: boolean }).ready, 1000);
  const status = (await c2.call("status")) as { state: string };
  assert(status.state === "running", `status.state is ${status.state}`);
  const mib = (manifest.files[0]!.size / 2 ** 20).toFixed(0);
  return {
    client: c2,
    detail: `mvmctl snapshot --resume [${timing(liveReport.steps)}]; --stop: ${mib} MiB state (QEMU ${manifest.vmm.version}); QEMU killed, restarted with -incoming defer; mvmctl restore [${timing(r.steps)}]; wake skew ${Math.round(r.wake.clock_skew_ms!)} ms (QEMU was down ${downMs} ms), clock set, restore:web ok; markers; healthy; running`,
  };
}

export async function stepLogs(vm: Vm, workDir: string): Promise<string> {
  const vms = join(workDir, "vms.json");
  writeFileSync(vms, JSON.stringify({ vms: [{ name: "vm", agent: `qemu-serial:${vm.serialSocket}`, console_log: vm.console }] }));
  const p = Bun.spawn([process.execPath, "host/cli/bin.ts", "--vms", vms, "logs", "vm", "-n", "2000"], { cwd: root, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  assert(code === 0, `mvmctl logs exited ${code}: ${err}`);
  const lines = out.split("\n");
  const health = lines.filter((l) => / health /.test(l) && l.includes("web"));
  const probes = lines.filter((l) => / probes /.test(l) && l.includes("root-disk-usage"));
  assert(health.length > 0, `mvmctl logs shows no health line about "web"`);
  assert(probes.length > 0, `mvmctl logs shows no probe line about "root-disk-usage"`);
  return `${lines.length} lines; e.g. ${JSON.stringify(health.at(-1)!.slice(0, 120))} and ${JSON.stringify(probes.at(-1)!.slice(0, 120))}`;
}

export async function stepProd(c: AgentClient): Promise<string> {
  const hello = (await c.call("hello")) as Hello;
  assert(hello.build === "prod", `hello.build is ${hello.build}, expected prod`);
  assert(!hello.requests.includes("exec"), `the production build serves exec: ${hello.requests.join(", ")}`);
  const err = await c.call("exec", { command: "true" }).then(
    () => null,
    (e: { code?: string; message: string }) => e,
  );
  assert(err && /E_UNKNOWN_REQUEST/.test(`${err.code} ${err.message}`), `exec on prod: ${err ? err.message : "it answered"}`);
  const status = (await c.call("status")) as { state: string };
  assert(status.state === "running", `status.state ${status.state}`);
  return `prod build serves ${hello.requests.length} requests without exec (exec -> E_UNKNOWN_REQUEST)`;
}

export function ensureDir(p: string): string {
  mkdirSync(p, { recursive: true });
  return p;
}

/**
 * Issue 15's deadline attacks in the guest (busybox, no cgroup v2 mounted: the /proc marker; the agent
 * is a child subreaper under busybox init): a setsid escape in exec, a double fork holding stdout, and
 * a checkpoint_cmd that escapes under sleep-prep's drain deadline. Each answers at its deadline, no
 * escaped `sleep` lives on, and no zombie is left under the agent.
 */
export async function stepDeadlines(h: Harness, c: AgentClient, hello: Hello): Promise<string> {
  needs(hello, "exec", "sleep-prep", "wake");
  const TAG = "300.4242";
  const timed: string[] = [];
  const within = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await fn();
    const s = (performance.now() - t0) / 1000;
    assert(s < 60, `${what} took ${s.toFixed(1)} s (the child would live 300 s)`);
    timed.push(`${what} ${s.toFixed(1)} s`);
    return r;
  };
  const exec = (command: string) => c.call("exec", { command, timeout_secs: 2 }, { timeoutMs: 90_000 }) as Promise<ExecResult>;
  const a = await within("exec setsid", () => exec(`setsid sleep ${TAG} & wait`));
  assert(a.timed_out, `exec of a setsid escape: ${JSON.stringify(a)}`);
  const b = await within("exec double fork", () => exec(`(setsid sh -c 'echo > /tmp/escaped; exec sleep ${TAG}' &); while [ ! -e /tmp/escaped ]; do sleep 0.01; done; echo started`));
  assert(b.timed_out && b.stdout === "started\n", `exec of a double fork holding stdout: ${JSON.stringify(b)}`);

  await sh(c, `printf '%s' '{"name":"escape","checkpoint_cmd":"setsid sleep ${TAG} & wait","checkpoint_timeout_secs":60}' > /etc/mvm/integrations.d/zz-escape.json && chmod 644 /etc/mvm/integrations.d/zz-escape.json`);
  try {
    await h.until("the escape integration to load", 30_000, async () => ((await c.call("health")) as { integrations: { name: string }[] }).integrations.some((i) => i.name === "escape"), 500);
    const prep = await within("sleep-prep drain 2 s", () => c.call("sleep-prep", { drain_timeout_secs: 2 }, { timeoutMs: 90_000 }));
    const step = prep.steps.find((s) => s.name === "checkpoint:escape");
    assert(step && !step.ok && /the drain deadline/.test(step.detail), `checkpoint:escape: ${JSON.stringify(step ?? prep.steps)}`);
    await c.call("wake", {}, { timeoutMs: 60_000 });
  } finally {
    await sh(c, "rm -f /etc/mvm/integrations.d/zz-escape.json");
  }
  const agentPid = ((await c.call("status")) as { pid: number }).pid;
  await h.until("no escaped sleep alive and no zombie under the agent", 30_000, async () => {
    const ps = await sh(c, "ps -o pid,ppid,stat,args");
    const rows = ps.split("\n").slice(1).map((l) => l.trim().split(/\s+/));
    const alive = rows.filter((r) => r.slice(3).join(" ").includes(TAG) && !r[2]!.startsWith("Z") && !r.slice(3).join(" ").includes("ps -o"));
    const zombies = rows.filter((r) => Number(r[1]) === agentPid && r[2]!.startsWith("Z"));
    return alive.length === 0 && zombies.length === 0;
  }, 1000);
  return `${timed.join("; ")}; no escaped sleep left, no zombie under the agent (pid ${agentPid})`;
}
