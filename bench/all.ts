// `bun run bench`: run every `bench:*` script of package.json in turn and write BENCHMARKS.md from their
// bench/results/<name>.md. A bench that fails is reported as failed, never dropped.
// usage: bun bench/all.ts [--soak] [--only a,b]   (soak runs 10 minutes, so only with --soak; so does footprint's
// 50-integration phase, 1 minute without it)

import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { machineLine, root, table } from "./lib.ts";

const soak = process.argv.includes("--soak");
const onlyArg = process.argv.indexOf("--only");
const only = onlyArg > 0 ? new Set(process.argv[onlyArg + 1]!.split(",")) : null;

const scripts = Object.keys((JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts)
  .filter((s) => s.startsWith("bench:"))
  .map((s) => s.slice(6));

interface Outcome {
  name: string;
  status: "ok" | "failed" | "not run";
  seconds: number;
  note: string;
  markdown: string | null;
}

const outcomes: Outcome[] = [];
for (const name of scripts) {
  const resultFile = join(root, "bench/results", `${name}.md`);
  const previous = existsSync(resultFile) ? readFileSync(resultFile, "utf8") : null;
  const skip = (name === "soak" && !soak) || (only && !only.has(name));
  if (skip) {
    const when = existsSync(resultFile) ? statSync(resultFile).mtime.toISOString().slice(0, 16).replace("T", " ") + " UTC" : null;
    outcomes.push({
      name,
      status: "not run",
      seconds: 0,
      note: name === "soak" ? "10 minutes: run with `bun run bench -- --soak`" : "left out by --only",
      markdown: previous && when ? `_Not re-run by this \`bun run bench\`; the result below is from an earlier run (${when})._\n\n${previous}` : null,
    });
    continue;
  }
  console.log(`\n=== bench:${name} ===`);
  const t0 = performance.now();
  const started = Date.now();
  // footprint's 50-integration phase lasts 10 minutes, as soak does: 1 minute unless --soak.
  const extra = name === "footprint" && !soak ? ["--minutes", "1"] : [];
  const p = Bun.spawn([process.execPath, "run", `bench:${name}`, ...extra], { cwd: root, stdout: "inherit", stderr: "pipe" });
  let stderr = "";
  for await (const c of p.stderr as ReadableStream<Uint8Array>) {
    const s = Buffer.from(c).toString();
    process.stderr.write(s);
    stderr = (stderr + s).slice(-4000);
  }
  const code = await p.exited;
  const seconds = (performance.now() - t0) / 1000;
  const fresh = existsSync(resultFile) && statSync(resultFile).mtimeMs >= started;
  const markdown = fresh ? readFileSync(resultFile, "utf8") : null;
  if (code === 0 && fresh) outcomes.push({ name, status: "ok", seconds, note: "", markdown });
  else
    outcomes.push({
      name,
      status: "failed",
      seconds,
      note: code !== 0 ? `exit code ${code}` : `exited 0 but wrote no bench/results/${name}.md`,
      markdown: [
        `## bench:${name} — FAILED (${code !== 0 ? `exit code ${code}` : "no result written"})`,
        "",
        "Last lines of its stderr:",
        "",
        "```",
        stderr.trim().split("\n").slice(-25).join("\n") || "(empty)",
        "```",
        ...(markdown ? ["", "What it wrote before failing:", "", markdown] : []),
      ].join("\n"),
    });
}

const doc = [
  "# Benchmarks",
  "",
  "Written by `bun run bench` (bench/all.ts) from each bench's `bench/results/<name>.md`; do not edit by hand.",
  "Every figure stands beside a floor measured in the same run on the same machine: ratios are what count, not",
  "absolute times (the machine below is shared and noisy).",
  "",
  `- Machine: ${machineLine()}`,
  `- Date: ${new Date().toISOString().replace(/\.\d+Z$/, "Z")}`,
  `- Load average at the end: ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`,
  "- Reproduce: `bun run bench` (all but soak; footprint's 50-integration phase for 1 minute), `bun run bench -- --soak` (with the 10-minute soak and footprint phase), or one bench: `bun run bench:<name>`.",
  "",
  table(
    ["bench", "status", "seconds", "note"],
    outcomes.map((o) => [`bench:${o.name}`, o.status === "failed" ? "**FAILED**" : o.status, o.status === "not run" ? "" : Math.round(o.seconds), o.note]),
  ),
  "",
  ...outcomes.flatMap((o) => (o.markdown ? [o.markdown.trim().replace(/^# /m, "## "), ""] : [`## bench:${o.name}`, "", "No result yet.", ""])),
].join("\n");
writeFileSync(join(root, "BENCHMARKS.md"), doc);
console.log(`\nBENCHMARKS.md: ${outcomes.map((o) => `${o.name} ${o.status}`).join(", ")}`);
if (outcomes.some((o) => o.status === "failed")) process.exit(1);
