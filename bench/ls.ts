// bench:ls — `mvmctl ls` over 100 VMs (target < 1 s), against the same 100 status calls made directly in the same run.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentClient } from "../host/client/agent-client.ts";
import { runCli } from "../host/cli/run.ts";
import { machineLine, percentile, root, startFleetAgent, table, writeResult } from "./lib.ts";

const VMS = 100;
const ROUNDS = 10;

const dir = mkdtempSync(join(tmpdir(), "bench-ls-"));
// One agent process serving 100 sockets: each VM is its own connection.
const fleet = await startFleetAgent(VMS).catch((e) => {
  rmSync(dir, { recursive: true, force: true });
  throw e;
});
const { socks } = fleet;

async function wall(fn: () => Promise<unknown>): Promise<number[]> {
  await fn(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

async function spawnOk(argv: string[]): Promise<void> {
  const p = Bun.spawn(argv, { stdout: "ignore", stderr: "pipe" });
  if ((await p.exited) !== 0) throw new Error(`${argv.join(" ")} failed: ${await new Response(p.stderr).text()}`);
}

try {
  const vmsFile = join(dir, "vms.json");
  writeFileSync(vmsFile, JSON.stringify({ vms: fleet.vms }));

  // In-process: runCli ls --json vs 100 concurrent status calls on fresh clients.
  const quiet = { out() {}, outBytes() {}, err() {}, errBytes() {}, readStdin: async () => new Uint8Array(), stdoutIsTTY: false, env: {}, signal: new AbortController().signal, now: Date.now };
  const inLs = await wall(async () => {
    if ((await runCli(["--vms", vmsFile, "ls", "--json"], quiet)) !== 0) throw new Error("ls failed");
  });
  const inFloor = await wall(async () => {
    const cs = socks.map((s) => new AgentClient(`unix:${s}`));
    await Promise.all(cs.map((c) => c.call("status")));
    await Promise.all(cs.map((c) => c.close()));
  });
  // As a process, the way an operator runs it (Bun start-up included) vs a script making the same calls.
  const procLs = await wall(() => spawnOk([process.execPath, join(root, "host/cli/bin.ts"), "--vms", vmsFile, "ls"]));
  const procFloor = await wall(() => spawnOk([process.execPath, join(root, "bench/ls-floor.ts"), vmsFile]));

  const p50 = (v: number[]) => percentile(v, 50);
  const rows = [
    [`mvmctl ls over ${VMS} VMs (in process), p50 ms`, p50(inLs), p50(inFloor), p50(inLs) / p50(inFloor), "< 1000", p50(inLs) < 1000 ? "PASS" : "FAIL"],
    [`mvmctl ls over ${VMS} VMs (process, start-up included), p50 ms`, p50(procLs), p50(procFloor), p50(procLs) / p50(procFloor), "< 1000", p50(procLs) < 1000 ? "PASS" : "FAIL"],
  ];
  writeResult(
    "ls",
    [
      "## bench:ls",
      "",
      table(["figure", "value", "floor", "ratio", "target", ""], rows),
      "",
      `Floor: the same ${VMS} \`status\` calls (one fresh AgentClient per VM, all at once) made directly, in the same process / as a minimal Bun script (bench/ls-floor.ts) that reads the same vms.json. ` +
        `${ROUNDS} rounds each after a warm-up; one agent process serves all ${VMS} sockets. ${machineLine()}. Reproduce: \`bun bench/ls.ts\`.`,
    ].join("\n"),
  );
} finally {
  await fleet.stop();
  rmSync(dir, { recursive: true, force: true });
}
