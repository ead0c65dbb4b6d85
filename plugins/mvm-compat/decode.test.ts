// The pure pieces: which bodies are mvm, decoding, the time format, string fitting, status and probe mapping.

import { expect, test } from "bun:test";
import type { ResultOf } from "../../agent/plugin.ts";
import { decodeMvm, isMvmBody } from "./decode.ts";
import { sleepPrepDetail } from "./lifecycle.ts";
import { mvmProbe, mvmStatus } from "./reports.ts";
import { fitJsonString, jsonBytes, mvmTime } from "./text.ts";

type IntegrationEntry = ResultOf<"health">["integrations"][number];
type ProbeResult = ResultOf<"probes">["probes"][number];

test("isMvmBody: bare strings and objects with a PascalCase key and no type", () => {
  expect(isMvmBody("Ping")).toBe(true);
  expect(isMvmBody("ping")).toBe(true);
  expect(isMvmBody({ SleepPrep: { drain_timeout_secs: 1 } })).toBe(true);
  expect(isMvmBody({ Ping: null, Wake: null })).toBe(true);
  expect(isMvmBody({ type: "ping", Ping: null })).toBe(false);
  expect(isMvmBody({ typo: "ping" })).toBe(false);
  expect(isMvmBody({})).toBe(false);
  expect(isMvmBody([1])).toBe(false);
  expect(isMvmBody(null)).toBe(false);
  expect(isMvmBody(3)).toBe(false);
});

test("decodeMvm: unit verbs as a string or with null, struct verbs with checked fields", () => {
  expect(decodeMvm("Wake")).toEqual({ ok: true, verb: "Wake", payload: null });
  expect(decodeMvm({ FsDiff: null })).toEqual({ ok: true, verb: "FsDiff", payload: null });
  expect(decodeMvm({ Exec: { command: "id" } })).toEqual({ ok: true, verb: "Exec", payload: { command: "id" } });
  expect(decodeMvm({ Exec: { command: "id", stdin: null, timeout_secs: null } })).toMatchObject({ ok: true });
  expect(decodeMvm({ SleepPrep: { drain_timeout_secs: 1.5 } })).toMatchObject({ ok: false, verb: "SleepPrep" });
  expect(decodeMvm({ ProtocolHello: { host_protocol_version: 2 ** 32, min_supported_version: 1, host_version: "", requested_capabilities: [] } })).toMatchObject({
    ok: false,
    message: expect.stringContaining("/host_protocol_version"),
  });
  // Names quoted back are bounded and escaped.
  const r = decodeMvm(`Bad\n${"x".repeat(100)}`);
  expect(r.ok).toBe(false);
  if (!r.ok) {
    expect(r.message.length).toBeLessThan(120);
    expect(r.message).not.toContain("\n");
  }
});

test("mvmTime: whole seconds, UTC, Z; null for null and garbage", () => {
  expect(mvmTime("2026-11-28T10:57:19.823Z")).toBe("2026-11-28T10:57:19Z");
  expect(mvmTime("2026-11-28T12:57:19+02:00")).toBe("2026-11-28T10:57:19Z");
  expect(mvmTime(Date.parse("2026-01-01T00:00:00Z"))).toBe("2026-01-01T00:00:00Z");
  expect(mvmTime(null)).toBeNull();
  expect(mvmTime("yesterday")).toBeNull();
});

test("fitJsonString: the longest prefix that fits, never half a character", () => {
  expect(fitJsonString("hello", 100)).toBe("hello");
  expect(fitJsonString("héllo", 5)).toBe("hé");
  expect(fitJsonString("a😀b", 6)).toBe("a");
  expect(fitJsonString("a😀b", 7)).toBe("a😀");
  const nul = "\u0000".repeat(10);
  expect(jsonBytes(fitJsonString(nul, 20))).toBeLessThanOrEqual(20);
  expect(fitJsonString(nul, 20)).toBe("\u0000".repeat(3));
  expect(fitJsonString("abc", 1)).toBe("");
});

function entry(over: Partial<IntegrationEntry>): IntegrationEntry {
  return { name: "x", status: "healthy", detail: "", since: "2026-01-01T00:00:00.000Z", consecutive_failures: 0, last: null, ...over };
}

test("mvmStatus: healthy and unchecked are active; error carries its detail; the rest keep their name", () => {
  expect(mvmStatus(entry({ status: "healthy" }))).toBe("active");
  expect(mvmStatus(entry({ status: "unchecked" }))).toBe("active");
  expect(mvmStatus(entry({ status: "starting" }))).toBe("starting");
  expect(mvmStatus(entry({ status: "pending" }))).toBe("pending");
  expect(mvmStatus(entry({ status: "paused" }))).toBe("paused");
  expect(mvmStatus(entry({ status: "error", detail: "exit 1: down" }))).toEqual({ error: "exit 1: down" });
});

test("mvmStatus keeps the original's semantics: the last check decides, whatever our thresholds", () => {
  const last = (ok: boolean) => ({ ok, exit_code: ok ? 0 : 1, signal: null, timed_out: false, duration_ms: 3, output: ok ? "" : "refused", checked_at: "2026-01-01T00:00:00.000Z" });
  // One failure of three: still healthy (or pending) for us, an error for the original.
  expect(mvmStatus(entry({ status: "healthy", last: last(false), consecutive_failures: 1 }))).toEqual({ error: "exit code 1: refused" });
  expect(mvmStatus(entry({ status: "pending", last: last(false), consecutive_failures: 1 }))).toEqual({ error: "exit code 1: refused" });
  // One pass of two (success_threshold 2): pending for us, active for the original.
  expect(mvmStatus(entry({ status: "pending", last: last(true) }))).toBe("active");
  // In the startup grace a failure is `starting` in both.
  expect(mvmStatus(entry({ status: "starting", last: last(false) }))).toBe("starting");
  expect(mvmStatus(entry({ status: "pending", last: null }))).toBe("pending");
});

function probe(over: Partial<ProbeResult>): ProbeResult {
  return {
    name: "p",
    ok: true,
    value: 1,
    output: "1",
    unit: null,
    detail: null,
    exit_code: 0,
    timed_out: false,
    duration_ms: 3,
    checked_at: "2026-01-01T00:00:01.500Z",
    stale: false,
    ...over,
  };
}

test("mvmProbe: unrun probes are left out; healthy means exit 0; output only when healthy and present", () => {
  expect(mvmProbe(probe({ checked_at: null, ok: null }))).toBeNull();
  expect(mvmProbe(probe({}))).toEqual({ name: "p", healthy: true, detail: "ok", output: 1, checked_at: "2026-01-01T00:00:01Z" });
  expect(mvmProbe(probe({ value: null }))).toEqual({ name: "p", healthy: true, detail: "ok", checked_at: "2026-01-01T00:00:01Z" });
  expect(mvmProbe(probe({ ok: false, value: null, detail: "timed out after 10s", exit_code: null, timed_out: true }))).toEqual({
    name: "p",
    healthy: false,
    detail: "timed out after 10s",
    checked_at: "2026-01-01T00:00:01Z",
  });
});

test("sleepPrepDetail: the original's sentences, then checkpoints, then why not ready", () => {
  const step = (name: string, ok: boolean, detail = "") => ({ name, ok, duration_ms: 1, detail });
  expect(sleepPrepDetail({ ready: true, state: "sleeping", duration_ms: 2, steps: [step("sync", true), step("drop-caches", true)] })).toBe(
    "filesystems synced, page cache dropped",
  );
  expect(
    sleepPrepDetail({ ready: true, state: "sleeping", duration_ms: 2, steps: [step("sync", true), step("drop-caches", false, "not permitted (EACCES)")] }),
  ).toBe("filesystems synced, page cache drop failed (not permitted (EACCES))");
  expect(
    sleepPrepDetail({
      ready: false,
      state: "sleeping",
      duration_ms: 2,
      steps: [step("checkpoint:db", false, "exit 1: locked"), step("sync", false, "failed: EIO"), step("drop-caches", true)],
    }),
  ).toBe("sync failed: failed: EIO; checkpoints: db FAILED (exit 1: locked); not ready (a critical checkpoint or sync failed)");
});
