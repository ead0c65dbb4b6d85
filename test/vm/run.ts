// `bun run test:vm`: our compiled agent as the guest agent of a real QEMU VM: boot, serve, snapshot, restore, wake.
//
// Env: MVM_VM_KVM=1 uses KVM instead of TCG; MVM_VM_KEEP=1 keeps the work dir (test/vm/.cache/work);
// MVM_VM_KERNEL=/boot/vmlinuz-X picks the kernel. Exit 0 = passed or SKIPPED (printed loudly), else 1.

import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Vm } from "../../scripts/vm/qemu.ts";
import { ensureDeps } from "./deps.ts";
import { Harness } from "./harness.ts";
import { buildImages, CACHE } from "./image.ts";
import * as S from "./steps.ts";

const SUITE_LIMIT_MS = 9 * 60_000;
const say = (line: string) => console.log(line);
const env = process.env;
const started = performance.now();
const h = new Harness(say);
const vms: Vm[] = [];

function banner(lines: string[]): void {
  const bar = "#".repeat(78);
  say(`\n${bar}\n${lines.map((l) => `# ${l}`).join("\n")}\n${bar}\n`);
}

async function cleanup(): Promise<void> {
  for (const vm of vms) await vm.kill().catch(() => {});
  if (env.MVM_VM_KEEP !== "1") rmSync(join(CACHE, "work"), { recursive: true, force: true });
}

for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, () => {
    say(`test:vm: ${sig}: stopping the VMs`);
    void cleanup().then(() => process.exit(130));
  });
const watchdog = setTimeout(() => {
  say(`test:vm: FAILED: the suite ran past ${SUITE_LIMIT_MS / 60_000} minutes; killing the VMs`);
  if (h.vm) say(h.vm.consoleTail(40));
  void cleanup().then(() => process.exit(1));
}, SUITE_LIMIT_MS);

async function main(): Promise<number> {
  const deps = await ensureDeps(env, say);
  if (!deps.ok) {
    banner(["test:vm: SKIPPED — the real-VM suite did not run.", ...deps.reason.split("\n"), "Nothing was checked in a VM; this is not a pass."]);
    return 0;
  }
  say(`test:vm: qemu ${deps.deps.qemu}, kernel ${deps.deps.kernel}, busybox ${deps.deps.busybox}${deps.installed ? " (just installed)" : ""}; ${env.MVM_VM_KVM === "1" ? "KVM" : "TCG (-cpu max)"}`);
  const images = await buildImages(deps.deps, say);
  const work = join(CACHE, "work");
  rmSync(work, { recursive: true, force: true });
  const bootMs = env.MVM_VM_KVM === "1" ? 60_000 : 150_000;
  const kvm = env.MVM_VM_KVM === "1";
  if (kvm && !existsSync("/dev/kvm")) throw new Error("MVM_VM_KVM=1 but /dev/kvm does not exist (unset it to use TCG)");

  // The dev guest: every step of issue 11.
  const dev = new Vm({ kernel: deps.deps.kernel, initrd: images.dev, dir: S.ensureDir(join(work, "dev")), kvm, memoryMiB: 1280 });
  vms.push(dev);
  h.vm = dev;
  let c: Awaited<ReturnType<typeof S.waitForAgent>> | null = null;
  let hello: Awaited<ReturnType<typeof S.stepHello>>["hello"] | null = null;
  const order = ["1. boot: overlay root, httpd, agent on serial + vsock", "2. hello, health, probes, worker-status", "3. exec changes files; fs-diff finds exactly them", "4. in the guest: mvmctl ping over vsock:1:52", "5. mvmctl snapshot (--resume, then --stop), QEMU killed, -incoming defer, mvmctl restore", "5b. after the restore: exec, and mvmctl ping over vsock:1:52 again", "6. mvmctl logs shows health and probe lines", "8. deadlines: setsid escapes in exec and in a checkpoint_cmd are killed at the deadline"];
  let ok = await h.step("boot the dev guest; CONNECT during boot, then SYNC past a stale session", async () => {
    dev.start();
    await h.until("the serial socket", 30_000, () => existsSync(dev.serialSocket));
    const stale = await S.staleHostSession(h, dev, "dev", bootMs);
    c = await S.firstCall(dev);
    const con = dev.consoleTail(400);
    if (!/discarded \d+ bytes \((?!a partial frame)/.test(con)) throw new Error("the agent logged no discarded bytes for the junk line");
    if (!con.includes("a partial frame cut short by a SYNC line")) throw new Error("the agent did not log the half frame cut short by our SYNC line");
    return `${stale}; junk discarded; the half frame cut by our SYNC; ping answered ${((performance.now() - started) / 1000).toFixed(0)} s into the suite`;
  });
  ok = ok && (await h.step(order[0]!, () => S.stepInit(c!, dev)));
  ok =
    ok &&
    (await h.step(order[1]!, async () => {
      const r = await S.stepHello(h, c!);
      hello = r.hello;
      return r.detail;
    }));
  if (ok) {
    await h.step(order[2]!, () => S.stepFsDiff(c!, hello!));
    await h.step(order[3]!, () => S.stepVsock(c!, hello!));
    const snap = await h.step(order[4]!, async () => {
      const r = await S.stepSnapshot(h, dev, c!, hello!, say);
      c = r.client;
      return r.detail;
    });
    if (snap) {
      await h.step(order[5]!, () => S.stepVsock(c!, hello!));
      await h.step(order[6]!, () => S.stepLogs(dev, work));
      await h.step(order[7]!, () => S.stepDeadlines(h, c!, hello!));
    }
  }
  for (const name of order) if (!h.steps.some((s) => s.name === name)) h.skip(name, "an earlier step failed");
  await (c as { close(): Promise<void> } | null)?.close();
  await dev.kill();

  // The production guest: it boots and serves, without exec.
  const prod = new Vm({ kernel: deps.deps.kernel, initrd: images.prod, dir: S.ensureDir(join(work, "prod")), kvm, memoryMiB: 1024 });
  vms.push(prod);
  h.vm = prod;
  await h.step("7. the production binary boots and serves without exec", async () => {
    prod.start();
    const pc = await S.waitForAgent(h, prod, "prod", bootMs);
    try {
      return await S.stepProd(pc);
    } finally {
      await pc.close();
    }
  });
  await prod.kill();
  const sum = h.summary();
  const secs = (performance.now() - started) / 1000;
  say(`\n${sum.text}\n`);
  say(` ${h.steps.length - sum.failed - sum.unchecked} pass\n ${sum.failed + sum.unchecked} fail`);
  if (sum.failed || sum.unchecked)
    banner([`test:vm: FAILED — ${sum.failed} step(s) failed, ${sum.unchecked} not checked, in ${secs.toFixed(0)} s`, `work dir: ${work} (MVM_VM_KEEP=1 keeps it)`]);
  else say(`test:vm: all ${h.steps.length} steps passed in ${secs.toFixed(0)} s`);
  return sum.failed || sum.unchecked ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  say(`test:vm: FAILED: ${(e as Error).stack ?? e}`);
  code = 1;
} finally {
  clearTimeout(watchdog);
  await cleanup();
}
process.exit(code);
