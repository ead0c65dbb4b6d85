// The probes plugin with real commands, real files and a manual clock: parsing, timeout, stale, wake, bad files, reload.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentError } from "../../agent/errors.ts";
import { waitFor } from "../../agent/testing.ts";
import { alive } from "../../test/support/index.ts";
import { probesModule } from "./index.ts";
import { closeHarnesses, harness, type Harness } from "./testkit.ts";

afterEach(closeHarnesses);

const lines = (h: Harness, re: RegExp) => h.log.lines.filter((l) => re.test(l));

describe("values from real commands", () => {
  test("number, percent, JSON, text, exit_code and forced formats", async () => {
    const h = await harness({
      "a.json": { name: "disk", command: "echo 42%", unit: "percent" },
      "b.json": { name: "queue", command: `echo '{"depth": 3, "ok": true}'` },
      "c.json": { name: "os", command: "echo Debian 12" },
      "d.json": { name: "size", command: "printf ' 3.5 GiB \\n'", output_format: "number" },
      "e.json": { name: "not-number", command: "echo about three", output_format: "number" },
      "f.json": { name: "bad-json", command: "echo '{depth: 3'", output_format: "json" },
      "g.json": { name: "gpu", command: "exit 3", output_format: "exit_code" },
      "h.json": { name: "as-text", command: "echo 42", output_format: "text" },
      "i.json": { name: "json-number", command: "echo 7", output_format: "json" },
    });
    expect(await h.run("disk")).toMatchObject({ ok: true, value: 42, output: "42%", unit: "percent", detail: null, exit_code: 0, timed_out: false, stale: false });
    expect(await h.run("queue")).toMatchObject({ ok: true, value: { depth: 3, ok: true } });
    expect(await h.run("os")).toMatchObject({ ok: true, value: "Debian 12" });
    expect(await h.run("size")).toMatchObject({ ok: true, value: 3.5, output: "3.5 GiB" });
    expect(await h.run("not-number")).toMatchObject({ ok: false, value: null, output: "about three", detail: 'output is not a number: "about three"' });
    const bad = await h.run("bad-json");
    expect(bad).toMatchObject({ ok: false, value: null });
    expect(bad.detail).toStartWith("output is not valid JSON (");
    expect(await h.run("gpu")).toMatchObject({ ok: true, value: 3, exit_code: 3, detail: null });
    expect(await h.run("as-text")).toMatchObject({ ok: true, value: "42" });
    expect(await h.run("json-number")).toMatchObject({ ok: true, value: 7 });
    const r = await h.run("disk");
    expect(Date.parse(r.checked_at!)).toBe(h.clock.now());
    // Values are debug lines, with the probe and the run's duration as fields.
    expect(lines(h, /DEBUG .*probe disk = 42 percent probe=disk duration_ms=/).length).toBe(0);
    expect(lines(h, /DEBUG .*probe disk = 42 percent duration_ms=[0-9.]+$/).length).toBe(2);
    expect(lines(h, /INFO .*probe disk = /).length).toBe(0);
    expect(lines(h, /WARN .*probe not-number failed: output is not a number: "about three"/).length).toBe(1);
  });

  test("a probe that keeps failing: told when it starts, then at most once per --log-repeat-secs with a count; once when it is ok again", async () => {
    const h = await harness({ "a.json": { name: "mount", command: "exit 2", interval_secs: 3600 } });
    for (let i = 0; i < 30; i++) expect((await h.run("mount")).ok).toBe(false);
    expect(lines(h, /WARN .*probe mount/).length).toBe(1);
    expect(lines(h, /WARN .*probe mount failed: exit 2/).length).toBe(1);
    await h.clock.advance(600_000);
    await h.run("mount");
    const still = lines(h, /WARN .*probe mount still failing/);
    expect(still.length).toBe(1);
    expect(still[0]).toMatch(/probe mount still failing: 31 times in a row since \d\d:\d\d:\d\dZ \(exit 2\)/);
    h.write("a.json", { name: "mount", command: "echo 5", interval_secs: 3600 });
    await h.agent.reload();
    // A changed file starts the probe over (new streak); counters of the name are kept.
    const r = await h.run("mount");
    expect(r).toMatchObject({ ok: true, runs_total: 32, failures_total: 31 });
    expect(await h.agent.call("status")).toMatchObject({ plugins: { probes: { runs_total: 32, failures_total: 31 } } });
  });

  test("ok again after failures is one INFO line", async () => {
    const t = join(tmpdir(), `mvm-probe-code-${process.pid}`);
    writeFileSync(t, "1");
    const h = await harness({ "a.json": { name: "flip", command: `echo 7; exit $(cat ${t})` } });
    await h.run("flip");
    await h.run("flip");
    writeFileSync(t, "0");
    await h.run("flip");
    rmSync(t);
    expect(lines(h, /INFO .*probe flip = 7 \(ok again after 2 failures in a row\)/).length).toBe(1);
  });

  test("a failing command gives ok false with the exit and first line of stderr", async () => {
    const h = await harness({ "a.json": { name: "mount", command: "echo partial; echo 'df: /mnt/data: no such file' >&2; exit 2" } });
    expect(await h.run("mount")).toMatchObject({ ok: false, value: null, output: "partial", exit_code: 2, detail: "exit 2: df: /mnt/data: no such file" });
    expect(lines(h, /probe mount failed: exit 2: df: \/mnt\/data: no such file/).length).toBe(1);
  });

  test("output over 4 KiB: kept to 4 KiB; text says so, number fails", async () => {
    const h = await harness({
      "a.json": { name: "big", command: "head -c 10000 /dev/zero | tr '\\0' 7", output_format: "text" },
      "b.json": { name: "big-number", command: "head -c 10000 /dev/zero | tr '\\0' 7" },
    });
    const t = await h.run("big");
    expect(t.ok).toBe(true);
    expect(t.output!.length).toBe(4096);
    expect(t.detail).toBe("output is 10000 bytes, over the 4096-byte cap; value and output cut");
    expect(await h.run("big-number")).toMatchObject({ ok: false, value: null, detail: "output is 10000 bytes, over the 4096-byte cap; a probe reports one small value" });
  });
});

describe("schedule, timeout, stale", () => {
  test("every probe is listed with nulls (and zero counters) until its first run, which comes on schedule", async () => {
    const h = await harness({ "a.json": { name: "one", command: "echo 1", interval_secs: 5 } });
    expect(await h.probes()).toEqual([
      { name: "one", ok: null, value: null, output: null, unit: null, detail: null, exit_code: null, timed_out: false, duration_ms: null, checked_at: null, stale: false, runs_total: 0, failures_total: 0 },
    ]);
    await h.clock.advance(0);
    await waitFor(async () => (await h.probe("one"))?.ok === true, 10_000, "first run");
    const first = (await h.probe("one"))!;
    await h.clock.advance(5_000);
    await waitFor(async () => (await h.probe("one"))?.checked_at !== first.checked_at, 10_000, "second run");
  });

  test("timeout kills the whole process group and reports timed out", async () => {
    const h = await harness({});
    const marker = join(h.root, "child.pid");
    h.write("a.json", { name: "slow", command: `sleep 30 & echo $! > ${marker}; wait`, timeout_secs: 1 });
    await h.agent.reload();
    const run = h.run("slow");
    await waitFor(() => existsSync(marker) && readFileSync(marker, "utf8").trim() !== "", 10_000, "the probe to start its child");
    const child = Number(readFileSync(marker, "utf8"));
    await h.clock.advance(1_000);
    expect(await run).toMatchObject({ ok: false, timed_out: true, exit_code: null, detail: "timed out after 1s" });
    await waitFor(() => !alive(child), 10_000, "the grandchild to be gone");
  });

  test("a probe that stops reporting turns stale after 2 x interval; a fresh run clears it", async () => {
    const h = await harness({ "a.json": { name: "tick", command: "echo 1", interval_secs: 10 } });
    await h.clock.advance(0);
    await waitFor(async () => (await h.probe("tick"))?.ok === true, 10_000, "first run");
    await h.agent.scheduler.pauseAll();
    await h.clock.advance(20_000);
    expect((await h.probe("tick"))!.stale).toBe(false);
    await h.clock.advance(1);
    expect((await h.probe("tick"))!).toMatchObject({ stale: true, ok: true, value: 1 });
    h.agent.scheduler.resumeAll({ runNow: true });
    await h.clock.advance(0);
    await waitFor(async () => (await h.probe("tick"))?.stale === false, 10_000, "fresh result");
  });

  test("a probe whose first run never finishes turns stale 2 x interval after load", async () => {
    const h = await harness({ "a.json": { name: "hang", command: "sleep 30", interval_secs: 1, timeout_secs: 60 } });
    await h.clock.advance(2_000);
    expect((await h.probe("hang"))!).toMatchObject({ stale: false, checked_at: null });
    await h.clock.advance(1);
    expect((await h.probe("hang"))!).toMatchObject({ stale: true, checked_at: null, value: null });
  });

  test("wake: results from before the snapshot are kept but stale, and every probe runs again at once", async () => {
    const h = await harness({});
    const count = join(h.root, "count");
    h.write("a.json", { name: "runs", command: `echo x >> ${count}; wc -l < ${count}`, interval_secs: 60 });
    await h.agent.reload();
    await h.clock.advance(0);
    await waitFor(async () => (await h.probe("runs"))?.value === 1, 10_000, "first run");
    await h.agent.scheduler.pauseAll();
    await h.ctx().emit("wake", { at: h.clock.now(), reason: "wake" });
    // The run the wake started has not finished yet (it needs the event loop): the old value shows, stale.
    expect(await h.probe("runs")).toMatchObject({ value: 1, stale: true });
    await waitFor(async () => (await h.probe("runs"))?.value === 2, 10_000, "the run after wake");
    expect((await h.probe("runs"))!.stale).toBe(false);
  });

  test("stopping the agent kills a probe in flight and leaves no timer", async () => {
    const h = await harness({});
    const marker = join(h.root, "child.pid");
    h.write("a.json", { name: "slow", command: `sleep 30 & echo $! > ${marker}; wait`, timeout_secs: 60 });
    await h.agent.reload();
    await h.clock.advance(0);
    await waitFor(() => existsSync(marker) && readFileSync(marker, "utf8").trim() !== "", 10_000, "the probe to start");
    const child = Number(readFileSync(marker, "utf8"));
    await h.agent.stop({ drainMs: 0 });
    await waitFor(() => !alive(child), 10_000, "the probe's child to be gone");
    expect(h.agent.scheduler.size).toBe(0);
    expect(h.clock.pending()).toBe(0);
  });
});

describe("files", () => {
  test("the cmd alias of the original agent's files", async () => {
    const h = await harness({
      "a.json": { name: "legacy", cmd: "echo 5", output_format: "json" },
      "b.json": { name: "same", cmd: "echo 6", command: "echo 6" },
      "c.json": { name: "conflict", cmd: "echo 7", command: "echo 8" },
    });
    expect(await h.run("legacy")).toMatchObject({ ok: true, value: 5 });
    expect(await h.run("same")).toMatchObject({ ok: true, value: 6 });
    expect((await h.probes()).map((p) => p.name)).toEqual(["legacy", "same"]);
    expect(lines(h, /c\.json: skipped: field cmd: both command and its alias cmd are given, with different commands; keep one/).length).toBe(1);
  });

  test("each bad file gives one line naming the file and the field; the rest load", async () => {
    const h = await harness({
      "01-good.json": { name: "good", command: "echo 1" },
      "02-notjson.json": "{ name: ",
      "03-array.json": "[1]",
      "04-interval.json": { name: "fast", command: "echo 1", interval_secs: 0 },
      "05-nocommand.json": { name: "empty" },
      "06-dup.json": { name: "good", command: "echo 2" },
      "07-format.json": { name: "fmt", command: "echo 1", output_format: "yaml" },
      "08-extra.json": { name: "extra", command: "echo 1", colour: "blue" },
      "09-name.json": { name: "has space", command: "echo 1" },
      "10-ext.json": { name: "ext", cmd: "echo 1", "x-team": "storage", "x-links": ["https://example/runbook"] },
      "notes.txt": "not a probe",
    });
    expect((await h.probes()).map((p) => p.name)).toEqual(["good", "ext"]);
    const f = (n: string) => join(h.dir, n);
    expect(lines(h, new RegExp(`${f("02-notjson.json")}: skipped: not valid JSON`)).length).toBe(1);
    expect(lines(h, new RegExp(`${f("03-array.json")}: skipped: must hold one JSON object`)).length).toBe(1);
    expect(lines(h, new RegExp(`${f("04-interval.json")}: skipped: field interval_secs: `)).length).toBe(1);
    expect(lines(h, new RegExp(`${f("05-nocommand.json")}: skipped: field command: required \\(or its alias cmd\\)`)).length).toBe(1);
    expect(lines(h, new RegExp(`${f("06-dup.json")}: skipped: field name: "good" is already defined by ${f("01-good.json")}`)).length).toBe(1);
    expect(lines(h, new RegExp(`${f("07-format.json")}: skipped: field output_format: `)).length).toBe(1);
    expect(lines(h, new RegExp(`${f("08-extra.json")}: skipped: field colour: unknown key \\(keys starting with x- are left to users\\)`)).length).toBe(1);
    expect(lines(h, new RegExp(`${f("09-name.json")}: skipped: field name: must be 1 to 64 characters`)).length).toBe(1);
    expect(lines(h, /notes\.txt/).length).toBe(0);
    const status = ((await h.agent.call("status")) as { plugins: Record<string, any> }).plugins.probes;
    expect(status).toMatchObject({ dir: h.dir, loaded: 2, not_run: 2, ok: 0, failing: 0, stale: 0 });
    expect(status.skipped_files.length).toBe(8);
    // The answer lists them too, with the same words as the status section and the agent's book.
    const answer = (await h.agent.call("probes")) as { skipped_files: { file: string; message: string }[] };
    expect(answer.skipped_files).toEqual(status.skipped_files);
    expect(answer.skipped_files.find((s) => s.file === f("08-extra.json"))?.message).toContain("field colour: unknown key");
    expect(((await h.agent.call("status")) as { config_skipped: unknown[] }).config_skipped).toEqual(status.skipped_files);
  });

  test("probe-run is E_BUSY between sleep-prep and wake", async () => {
    const h = await harness({ "a.json": { name: "one", command: "echo 1" } });
    h.ctx().setAgentState("sleeping");
    const err = await h.run("one").catch((e) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect(err.code).toBe("E_BUSY");
    expect(err.message).toBe("probes are paused for a snapshot (lifecycle sleeping); send wake first");
    h.ctx().setAgentState("running");
    expect(await h.run("one")).toMatchObject({ value: 1 });
  });

  test("probe-run of an unknown name is E_NOT_FOUND", async () => {
    const h = await harness({ "a.json": { name: "one", command: "echo 1" } });
    const err = await h.run("two").catch((e) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect(err.code).toBe("E_NOT_FOUND");
    expect(err.message).toBe('no probe named "two" (loaded: one)');
  });

  test("reload: added, changed and removed files take effect; unchanged probes keep their result", async () => {
    const h = await harness({
      "keep.json": { name: "keep", command: "echo 1" },
      "change.json": { name: "change", command: "echo 2" },
      "drop.json": { name: "drop", command: "echo 3" },
    });
    await h.clock.advance(0);
    await waitFor(async () => (await h.probes()).every((p) => p.ok === true), 10_000, "first runs");
    const kept = (await h.probe("keep"))!;
    h.write("change.json", { name: "change", command: "echo 20", unit: "things" });
    rmSync(join(h.dir, "drop.json"));
    h.write("add.json", { name: "add", command: "echo 4" });
    await h.clock.advance(1_000);
    await h.agent.reload();
    const after = await h.probes();
    expect(after.map((p) => p.name)).toEqual(["add", "change", "keep"]);
    expect(after.find((p) => p.name === "keep")).toEqual({ ...kept });
    expect(after.find((p) => p.name === "change")).toMatchObject({ ok: null, unit: "things" });
    expect(lines(h, /probe drop removed/).length).toBe(1);
    expect(lines(h, /probe change changed/).length).toBe(1);
    await h.clock.advance(0);
    await waitFor(async () => (await h.probe("change"))?.value === 20 && (await h.probe("add"))?.value === 4, 10_000, "new runs");
    expect(h.agent.scheduler.size).toBe(3);
  });

  test("the directory is watched: a new file loads without SIGHUP, and a missing directory is said once", async () => {
    const h = await harness({}, { watch: true, mkdir: false });
    expect(await h.probes()).toEqual([]);
    expect(lines(h, /probes\.d: no such directory; no probes/).length).toBe(1);
    await h.agent.reload();
    expect(lines(h, /probes\.d: no such directory; no probes/).length).toBe(1);
    mkdirSync(h.dir);
    h.write("a.json", { name: "late", command: "echo 9" });
    await waitFor(async () => (await h.probes()).length === 1, 10_000, "the watched file to load");
    expect(await h.run("late")).toMatchObject({ value: 9 });
  });

  test("schema probe: JSON Schema of the file accepts command or cmd", () => {
    const s = probesModule.schemas!.probe!() as Record<string, any>;
    expect(s.type).toBe("object");
    expect(s.required).toEqual(["name"]);
    expect(s.anyOf).toEqual([{ required: ["command"] }, { required: ["cmd"] }]);
    expect(s.properties.output_format.enum).toEqual(["auto", "text", "number", "json", "exit_code"]);
    expect(s.properties.interval_secs).toMatchObject({ default: 60, minimum: 1, maximum: 86400, type: "integer" });
    expect(s.properties.timeout_secs).toMatchObject({ minimum: 1, maximum: 86400, type: "integer" });
    // Strict as the loader: no key it does not name, x- keys aside.
    expect(s.additionalProperties).toBe(false);
    expect(s.patternProperties).toEqual({ "^x-": {} });
  });
});

