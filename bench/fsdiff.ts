// bench:fsdiff: walk a 100 000-entry upper dir (nested dirs, kernel and OCI whiteouts, half with a lower) vs `find -printf`.

import { dlopen, FFIType, ptr } from "bun:ffi";
import { accessSync, constants, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileExcludes, fsDiff } from "../plugins/fsdiff/diff.ts";
import type { Layers } from "../plugins/fsdiff/layers.ts";
import type { FsDiffResult } from "../plugins/fsdiff/schemas.ts";
import { walkUpper } from "../plugins/fsdiff/walk.ts";

const TOP = 100;
const SUB = 9;
const FILES = 100; // per subdir
const KERNEL_WH = 5; // per subdir, char 0:0
const OCI_WH = 5; // per subdir, .wh.NAME
const ENTRIES = TOP + TOP * SUB + TOP * SUB * (FILES + KERNEL_WH + OCI_WH);
/** Dirs that exist in the lower (every other top dir and its subdirs) are not themselves changes. */
const REPORTED = ENTRIES - (TOP / 2) * (1 + SUB);
const RUNS = Number(process.env.RUNS ?? 7);

const libc = dlopen("libc.so.6", { mknod: { args: [FFIType.ptr, FFIType.u32, FFIType.u64], returns: FFIType.i32 } });
function whiteout(path: string): void {
  const p = Buffer.from(path + "\0");
  if (libc.symbols.mknod(ptr(p), 0o020000, 0) !== 0) throw new Error(`mknod ${path} failed (are you root?)`);
}

function base(): string {
  try {
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return tmpdir();
  }
}

export function build(root: string): Layers {
  const upper = join(root, "upper");
  const lower = join(root, "lower");
  for (let d = 0; d < TOP; d++) {
    const top = `d${String(d).padStart(3, "0")}`;
    const inLower = d % 2 === 0; // half the tree existed before boot
    for (let s = 0; s < SUB; s++) {
      const rel = join(top, `s${s}`);
      mkdirSync(join(upper, rel), { recursive: true });
      if (inLower) mkdirSync(join(lower, rel), { recursive: true });
      for (let f = 0; f < FILES; f++) {
        writeFileSync(join(upper, rel, `file-${f}.dat`), "x".repeat(f % 7));
        if (inLower && f % 2 === 0) writeFileSync(join(lower, rel, `file-${f}.dat`), "old");
      }
      for (let w = 0; w < KERNEL_WH; w++) {
        whiteout(join(upper, rel, `kgone-${w}`));
        if (inLower) writeFileSync(join(lower, rel, `kgone-${w}`), "k");
      }
      for (let w = 0; w < OCI_WH; w++) {
        writeFileSync(join(upper, rel, `.wh.ogone-${w}`), "");
        if (inLower) writeFileSync(join(lower, rel, `ogone-${w}`), "o");
      }
    }
  }
  return { upper, lowers: [lower], lowerKnown: true, xattrPrefix: "trusted.overlay.", source: "bench", lowerNote: "bench" };
}

/** Time one run; garbage left by the run before (the runtime floor makes 100 000 Stats) is collected first, not billed to it. */
async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  Bun.gc(true);
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Best of the runs: on a shared machine noise only adds time, so the minimum is the stable figure. */
function best(xs: number[]): number {
  return Math.min(...xs);
}

async function findFloor(upper: string): Promise<number> {
  return time(async () => {
    const p = Bun.spawn(["sh", "-c", `find "$1" -printf '%y %s %p\\n' > /dev/null`, "sh", upper]);
    if ((await p.exited) !== 0) throw new Error("find failed");
  });
}

/** What any Bun walk must pay: readdir with types + one lstat per entry, nothing else. */
function runtimeFloor(dir: string): number {
  let n = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      n++;
      const p = d + "/" + e.name;
      lstatSync(p);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return n;
}

async function pagedWalk(layers: Layers, maxFrameBytes: number, limit?: number): Promise<{ entries: number; pages: number }> {
  const deps = { layers: () => layers, defaultExclude: compileExcludes([]) };
  let cursor: string | undefined;
  let entries = 0;
  let pages = 0;
  do {
    const r: FsDiffResult = await fsDiff({ ...(cursor ? { cursor } : {}), ...(limit ? { limit } : {}) }, { maxFrameBytes }, deps);
    entries += r.changes.length;
    pages++;
    cursor = r.next_cursor ?? undefined;
  } while (cursor);
  return { entries, pages };
}

function heapMiB(): number {
  Bun.gc(true);
  return process.memoryUsage().heapUsed / 2 ** 20;
}

async function main() {
  const root = mkdtempSync(join(base(), "bench-fsdiff-"));
  try {
    const tb = performance.now();
    const layers = build(root);
    console.error(`built ${ENTRIES} upper entries in ${root} (${Math.round(performance.now() - tb)} ms)`);

    // Warm the dentry cache once for both sides, then alternate runs so noise hits both equally.
    await findFloor(layers.upper);
    const check = await pagedWalk(layers, 64 << 20, 100_000);
    if (check.entries !== REPORTED) throw new Error(`expected ${REPORTED} changes, walked ${check.entries}`);

    const floor: number[] = [];
    const bunFloor: number[] = [];
    const single: number[] = [];
    const paged: number[] = [];
    let pages = 0;
    for (let i = 0; i < RUNS; i++) {
      floor.push(await findFloor(layers.upper));
      bunFloor.push(await time(() => runtimeFloor(layers.upper)));
      single.push(await time(() => pagedWalk(layers, 64 << 20, 100_000)));
      paged.push(
        await time(async () => {
          pages = (await pagedWalk(layers, 1 << 20)).pages;
        }),
      );
    }

    // Memory: the streaming walk's heap growth vs holding every entry (what a non-paging walk does).
    const h0 = heapMiB();
    let peak = 0;
    let n = 0;
    for (const item of walkUpper({ ...layers, lowers: layers.lowers })) {
      if (item.change && ++n % 5000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed / 2 ** 20 - h0);
    }
    const h1 = heapMiB();
    const held = [...walkUpper({ ...layers })].map((i) => i.change);
    const heldMiB = heapMiB() - h1;
    if (held.length !== REPORTED) throw new Error("walk count mismatch");

    const f = best(floor);
    const b = best(bunFloor);
    const rows = [
      ["figure", "value", "floor", "ratio"],
      ["---", "---:", "---:", "---:"],
      [`fs-diff, one page (${ENTRIES} upper entries, ${REPORTED} changes)`, `${best(single).toFixed(0)} ms`, `${f.toFixed(0)} ms (find -printf)`, (best(single) / f).toFixed(2)],
      [`fs-diff, paged at 1 MiB frames (${pages} pages)`, `${best(paged).toFixed(0)} ms`, `${f.toFixed(0)} ms (find -printf)`, (best(paged) / f).toFixed(2)],
      [`same, paged, against Bun's own readdir+lstat walk`, `${best(paged).toFixed(0)} ms`, `${b.toFixed(0)} ms (runtime floor)`, (best(paged) / b).toFixed(2)],
      [
        "heap growth while streaming the walk (peak, sampled)",
        `${Math.max(peak, 0).toFixed(1)} MiB`,
        `${heldMiB.toFixed(1)} MiB (all entries held)`,
        (Math.max(peak, 0) / heldMiB).toFixed(2),
      ],
    ];
    const table = rows.map((r) => `| ${r.join(" | ")} |`).join("\n");
    const text = [
      "# bench:fsdiff",
      "",
      `Upper dir of ${ENTRIES} entries: ${TOP} top dirs x ${SUB} subdirs x (${FILES} files, ${KERNEL_WH} kernel whiteouts, ${OCI_WH} OCI whiteouts);`,
      `half the tree has a lower (half its files exist there, every whiteout hides a lower file). On ${base()}, warm cache,`,
      `best of ${RUNS} interleaved runs (a full GC before each timed run), each figure beside \`find UPPER -printf '%y %s %p\\n' > /dev/null\` timed in the same run.`,
      `Bun ${Bun.version}, ${new Date().toISOString()}. Target: ratio <= 1.8 for time (against find).`,
      "",
      table,
      "",
    ].join("\n");
    console.log(table);
    const out = join(import.meta.dir, "results", "fsdiff.md");
    mkdirSync(join(import.meta.dir, "results"), { recursive: true });
    writeFileSync(out, text);
    console.error(`wrote ${out}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
