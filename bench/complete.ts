// bench:complete — `mvmctl __complete vms` (what a TAB on a VM name runs), from source and compiled, against a minimal
// Bun script that reads the same vms.json and prints the names, in the same run.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mvmctlBinary } from "../test/support/index.ts";
import { machineLine, percentile, root, table, writeResult } from "./lib.ts";

const ROUNDS = 20;
const dir = mkdtempSync(join(tmpdir(), "bench-complete-"));

async function wall(argv: string[]): Promise<number[]> {
  const once = async () => {
    const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    if (code !== 0 || !out.includes("vm-099")) throw new Error(`${argv.join(" ")} failed (exit ${code})`);
  };
  await once(); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    await once();
    ms.push(performance.now() - t0);
  }
  return ms;
}

try {
  const vmsFile = join(dir, "vms.json");
  writeFileSync(vmsFile, JSON.stringify({ vms: Array.from({ length: 100 }, (_, i) => ({ name: `vm-${String(i).padStart(3, "0")}`, agent: `unix:/run/mvm/vm-${i}.sock` })) }));
  const { mvmctl } = await mvmctlBinary();
  const floor = await wall([process.execPath, join(root, "bench/complete-floor.ts"), vmsFile]);
  const source = await wall([process.execPath, join(root, "host/cli/bin.ts"), "--vms", vmsFile, "__complete", "vms"]);
  const compiled = await wall([mvmctl, "--vms", vmsFile, "__complete", "vms"]);
  const p50 = (v: number[]) => percentile(v, 50);
  const rows = [
    ["mvmctl __complete vms from source (bun host/cli/bin.ts), p50 ms", p50(source), p50(floor), p50(source) / p50(floor), "< 300", p50(source) < 300 ? "PASS" : "FAIL"],
    ["mvmctl __complete vms compiled (dist/mvmctl), p50 ms", p50(compiled), p50(floor), p50(compiled) / p50(floor), "< 300", p50(compiled) < 300 ? "PASS" : "FAIL"],
  ];
  writeResult(
    "complete",
    [
      "## bench:complete",
      "",
      table(["figure", "value", "floor", "ratio", "target", ""], rows),
      "",
      `A TAB on a VM name runs \`mvmctl __complete vms\` over a vms.json of 100 VMs. Floor: a minimal Bun script (bench/complete-floor.ts) that reads the same file and prints the names, ` +
        `run as a process the same way. ${ROUNDS} rounds each after a warm-up. ${machineLine()}. Reproduce: \`bun bench/complete.ts\`.`,
    ].join("\n"),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
