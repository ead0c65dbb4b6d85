// Wire fuzzer: seeded hostile frames against a real agent process; no crash, every frame answered or cleanly closed, no leak.
// Replay a failure with MVM_FUZZ_SEED=<seed>; change the count with MVM_FUZZ_FRAMES=<n>.

import { expect, test } from "bun:test";
import { ERROR_CODES } from "../../agent/errors.ts";
import { RawClient, waitFor } from "../../agent/testing.ts";
import { FrameGen, requestCatalog, type Frame, seedFromEnv } from "./gen.ts";
import { fds, freshPing, idleRssFloor, rssKb, request, spawnAgent, waitConnections, zombies, type SpawnedAgent as AgentProcess } from "../support/index.ts";

const SEED = seedFromEnv();
// 100 000 frames (the issue's count) took 74-108 s on the shared 2-core CI machine (load ~10), over the
// The issue's count: 100 000 frames (about 60 s on a quiet 2-core machine, up to 110 s on a busy one;
// the test's own limit is 300 s). MVM_FUZZ_FRAMES=<n> changes it for quick local runs.
const FRAMES = Number(process.env.MVM_FUZZ_FRAMES ?? 100_000);
const WARMUP = Math.max(2_000, Math.floor(FRAMES / 10));
const PHASE = Math.max(1_000, Math.ceil(FRAMES / 10));
const WORKERS = 4;
const BATCH = 100;
const MAX_FRAME = 1 << 20;

const FIXTURE = {
  "integrations.d/fx-ok.json": { name: "fx-ok", health_cmd: "true", health_interval_secs: 3600 },
  "probes.d/fx-probe.json": { name: "fx-probe", command: "echo 1", interval_secs: 3600 },
};

interface Tally {
  frames: number;
  answers: number;
  chaos: number;
  chaosClosed: number;
  chaosAnswered: number;
  pings: number;
  codes: Map<string, number>;
  /** The first message seen per error code, for the summary. */
  examples: Map<string, string>;
  problems: string[];
}

/** Send batches of framed bodies on one connection (reconnecting now and then); every body must get one final answer. */
async function framedWorker(a: AgentProcess, gen: FrameGen, quota: () => boolean, t: Tally, pinger: boolean, source?: Frame[]): Promise<void> {
  let c = await RawClient.connect(a.socket);
  let batches = 0;
  try {
    while (quota()) {
      const frames = source ? source.splice(0, BATCH) : Array.from({ length: BATCH }, () => gen.next());
      if (frames.length === 0) break;
      const all = Buffer.concat(frames.map((f) => f.bytes));
      // Write in up to three pieces cut anywhere, so frames also arrive split.
      const cut1 = gen.cut(all.length);
      const cut2 = cut1 + gen.cut(all.length - cut1);
      for (const [s, e] of [[0, cut1], [cut1, cut2], [cut2, all.length]] as const) if (e > s) c.write(all.subarray(s, e));
      t.frames += frames.length;
      let got = 0;
      while (got < frames.length) {
        const f = (await c.next(60_000)) as any;
        if (f === null) {
          t.problems.push(`agent closed a connection after ${got}/${frames.length} answers (kinds: ${frames.map((x) => x.kind).join(",")})`);
          return;
        }
        if (typeof f === "object" && f.undecodable) {
          t.problems.push(`undecodable answer: ${JSON.stringify(f).slice(0, 200)}`);
          continue;
        }
        if (typeof f === "object" && f.event !== undefined) continue;
        got++;
        t.answers++;
        // Bodies without a `type` go to the mvm dialect, whose answers have no `ok` ("Pong", {"Error": ...}).
        if (typeof f !== "object" || !("ok" in f)) t.codes.set("mvm-dialect", (t.codes.get("mvm-dialect") ?? 0) + 1);
        else if (typeof f.ok !== "boolean") t.problems.push(`answer without ok: ${JSON.stringify(f).slice(0, 200)}`);
        else if (f.ok === false) {
          const code = String(f.error?.code);
          t.codes.set(code, (t.codes.get(code) ?? 0) + 1);
          if (!t.examples.has(code)) t.examples.set(code, String(f.error?.message).slice(0, 120));
          if (!(code in ERROR_CODES)) t.problems.push(`code not in the catalog: ${code}`);
          if (code === "E_INTERNAL") t.problems.push(`E_INTERNAL: ${JSON.stringify(f).slice(0, 300)}`);
        } else t.codes.set("ok", (t.codes.get("ok") ?? 0) + 1);
      }
      if (pinger) {
        if (!(await freshPing(a.socket))) t.problems.push("ping on a fresh connection failed");
        t.pings++;
      }
      if (++batches % 20 === 0) {
        c.close();
        c = await RawClient.connect(a.socket);
      }
    }
  } finally {
    c.close();
  }
}

/** Stream-level attacks, one connection each: the agent answers the trailing ping or closes the connection. */
async function chaosWorker(a: AgentProcess, gen: FrameGen, running: () => boolean, t: Tally): Promise<void> {
  while (running()) {
    const { kind, bytes } = gen.chaos();
    const c = await RawClient.connect(a.socket);
    try {
      if (kind === "split-bytes") for (const b of bytes) c.write(Uint8Array.of(b));
      else c.write(bytes);
      t.chaos++;
      for (;;) {
        const f = (await c.next(30_000)) as any;
        if (f === null) {
          t.chaosClosed++;
          break;
        }
        if (typeof f === "string") continue; // OK <port> line
        if (f.type === "ping" && f.ok === true) {
          t.chaosAnswered++;
          break;
        }
        if (f.ok === false && !(String(f.error?.code) in ERROR_CODES)) t.problems.push(`chaos ${kind}: code not in the catalog: ${JSON.stringify(f)}`);
      }
    } catch (e) {
      t.problems.push(`chaos ${kind}: ${(e as Error).message}`);
    } finally {
      c.close();
    }
  }
}

/** Random frames on WORKERS connections until `frames` more are sent. */
async function run(a: AgentProcess, gen: FrameGen, frames: number, t: Tally): Promise<void> {
  const stopAt = t.frames + frames;
  const quota = () => t.frames < stopAt && t.problems.length === 0;
  await Promise.all(Array.from({ length: WORKERS }, (_, i) => framedWorker(a, gen, quota, t, i === 0)));
}

/** Two chaos workers running beside `body`, stopped (their last connection closed by the agent) after it. */
async function withChaos(a: AgentProcess, gen: FrameGen, t: Tally, body: () => Promise<void>): Promise<void> {
  let done = false;
  const going = () => !done && t.problems.length === 0;
  const chaos = [chaosWorker(a, gen, going, t), chaosWorker(a, gen, going, t)];
  try {
    await body();
  } finally {
    done = true;
    await Promise.all(chaos);
  }
}

test(`fuzz the wire: ${FRAMES} seeded frames against an agent process (seed ${SEED})`, async () => {
  console.log(`fuzz seed ${SEED}: replay with MVM_FUZZ_SEED=${SEED} bun test test/reliability/fuzz.test.ts`);
  const a = await spawnAgent({
    files: FIXTURE,
    args: ["--frame-timeout-secs", "5", "--idle-timeout-secs", "6", "--log-level", process.env.MVM_FUZZ_LOG ?? "warn"],
    env: {
      // "After a GC": the collector runs often (asynchronously) in this agent, so RSS samples compare
      // live memory rather than when JSC last happened to collect. Without it RSS swings 78-140 MB at random.
      BUN_GARBAGE_COLLECTOR_LEVEL: "1",
      MIMALLOC_PURGE_DELAY: "0",
    },
  });
  const t: Tally = { frames: 0, answers: 0, chaos: 0, chaosClosed: 0, chaosAnswered: 0, pings: 0, codes: new Map(), examples: new Map(), problems: [] };
  const t0 = performance.now();
  try {
    const catalog = requestCatalog(a.configDir);
    let ctl = await RawClient.connect(a.socket);
    const hello = await request(ctl, { type: "hello" });
    // The generator covers exactly what the running agent serves.
    expect([...catalog.keys()].sort()).toEqual([...hello.result.requests].sort());
    const gen = new FrameGen(SEED, catalog, MAX_FRAME);

    // First the systematic sweep (every param of every request x every wrong value), then random frames.
    const sweep = gen.sweep();
    const sweepCount = sweep.length;
    await framedWorker(a, gen, () => t.problems.length === 0, t, true, sweep);
    expect(t.answers).toBe(sweepCount);

    await withChaos(a, gen, t, () => run(a, gen, WARMUP - sweepCount, t));
    ctl.close();
    ctl = await RawClient.connect(a.socket);
    await waitConnections(ctl, 1);
    const rssBefore = await idleRssFloor(a.pid);
    // fds with exactly one connection (ours, reopened: the idle timeout may have cut it), after the idle
    // window: Bun releases some fds at a collection (the memfd of a spawn's stdin), so fds are read after one.
    ctl.close();
    ctl = await RawClient.connect(a.socket);
    await waitConnections(ctl, 1);
    const fdsBefore = fds(a.pid);

    // The rest in phases, sampling RSS after each (printed: a leak climbs, a high-water mark levels off).
    const phases: number[] = [];
    await withChaos(a, gen, t, async () => {
      for (let left = FRAMES - WARMUP; left > 0; left -= PHASE) {
        await run(a, gen, Math.min(PHASE, left), t);
        phases.push(rssKb(a.pid));
      }
    });
    ctl.close();
    ctl = await RawClient.connect(a.socket);
    await waitConnections(ctl, 1);
    // Wait (up to 60 s) for the idle agent to give memory back to within 20 % of before; a leak never does.
    let rssAfter = rssKb(a.pid);
    await waitFor(() => (rssAfter = rssKb(a.pid)) <= rssBefore * 1.2, 60_000, "RSS to come back within 20 % of before").catch(() => {});
    ctl.close();
    ctl = await RawClient.connect(a.socket);
    await waitConnections(ctl, 1);
    const fdsAfter = fds(a.pid);
    // The fuzzer must never have prepared a snapshot (it would have synced the host's disks).
    const status = await request(ctl, { type: "status" });
    ctl.close();

    const secs = (performance.now() - t0) / 1000;
    console.log(
      `fuzz: ${t.frames} framed (${sweepCount} of them the systematic sweep) + ${t.chaos} chaos connections (${t.chaosClosed} closed by the agent, ${t.chaosAnswered} answered) in ${secs.toFixed(1)} s; ` +
        `${t.pings} fresh pings; RSS ${rssBefore} -> ${rssAfter} KiB (by phase: ${phases.join(", ")}); fds ${fdsBefore.length} -> ${fdsAfter.length}\n` +
        `  kinds: ${[...gen.kinds].map(([k, n]) => `${k}=${n}`).join(" ")}\n  answers: ${[...t.codes].map(([k, n]) => `${k}=${n}`).join(" ")}\n` +
        [...t.examples].map(([k, m]) => `  e.g. ${k}: ${m}`).join("\n"),
    );
    expect(t.problems).toEqual([]);
    expect(a.exitCode()).toBeNull();
    expect(t.answers).toBe(t.frames);
    expect(t.chaosClosed + t.chaosAnswered).toBe(t.chaos);
    expect(await freshPing(a.socket)).toBe(true);
    expect(rssAfter).toBeLessThanOrEqual(rssBefore * 1.2);
    if (fdsAfter.length > fdsBefore.length) console.error(`fds before: ${fdsBefore.join(" ")}\nfds after: ${fdsAfter.join(" ")}`);
    expect(fdsAfter.length).toBeLessThanOrEqual(fdsBefore.length);
    // No stack trace on the agent's console: an unhandled rejection or an E_INTERNAL would print one.
    expect(a.console()).not.toMatch(/^\s+at /m);
    expect(zombies(a.pid)).toEqual([]);
    expect(status.result.plugins.snapshot.last_sleep_prep).toBeNull();
  } catch (e) {
    console.error(`FUZZ FAILED with seed ${SEED} (replay: MVM_FUZZ_SEED=${SEED} bun test test/reliability/fuzz.test.ts)`);
    console.error(`problems: ${t.problems.slice(0, 10).join("\n")}`);
    console.error(`agent console (tail):\n${a.console().slice(-4000)}`);
    throw e;
  } finally {
    await a.stop();
  }
}, 300_000);
