// Attack: client-controlled text reaching the text console raw (issue 15). Request ids, mvm dialect
// integration names, ProtocolHello host_version, fs-diff file names and command output all carry a
// newline and terminal escapes; every console line stays one line with no raw control character.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ask, settled, startCompatAgent, type CompatAgent } from "../../plugins/mvm-compat/testkit.ts";
import type { RawClient } from "../../agent/testing.ts";

/** A newline that would forge an ERROR line, ANSI and 8-bit CSI escapes, a carriage return and DEL. */
const FORGED = "2026-12-01T00:00:00.000Z ERROR core FORGED";
const EVIL = `evil\n${FORGED}\u001b[31m\u009b2J\r\u007f`;
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

let a: CompatAgent;
let c: RawClient;
beforeAll(async () => {
  a = await startCompatAgent({
    // A check whose output carries the attack (command output is client-controlled in a dev guest).
    integrations: () => [{ name: "noisy", health_cmd: "printf 'out\\033[31mred\\302\\2332J\\n' >&2; exit 1", health_interval_secs: 60 }],
    // A dialect cap that the hostile file name's entry passes, so that FsDiff cuts its answer there and says so.
    compat: { maxFrameBytes: 250 },
  });
  writeFileSync(join(a.upper, EVIL + "y".repeat(150)), "x");
  c = await a.connect();
  await settled(a);
});
afterAll(async () => {
  await a?.close();
});

test("hostile text from five ways in reaches the console only as escapes, one line per event", async () => {
  // A native request id (logged by exec's audit line) and one made of escapes alone.
  expect(await c.request({ type: "exec", id: EVIL, params: { argv: ["true"] } })).toMatchObject({ ok: true });
  expect(await c.request({ type: "exec", id: "\u001b]0;title\u0007", params: { argv: ["true"] } })).toMatchObject({ ok: true });
  // The mvm dialect: a hello from a host whose version is hostile, and integration names.
  const hello = { ProtocolHello: { host_protocol_version: 9, min_supported_version: 9, host_version: EVIL, requested_capabilities: [] } };
  // (The answers may be Error frames: the small cap below is for FsDiff; the console lines are what matter.)
  expect(await ask(c, JSON.stringify(hello))).toBeObject();
  expect(await ask(c, JSON.stringify({ CheckpointIntegrations: { integrations: [EVIL] } }))).toBeObject();
  // fs-diff: a guest user's file named like a log line.
  expect(await ask(c, '"FsDiff"')).toHaveProperty("FsDiffResult");

  const lines = a.t.log.lines;
  const about = (what: RegExp) => lines.filter((l) => what.test(l));
  // Each vector produced its line, and it shows the attack escaped.
  expect(about(/exec argv=.* id=/).length).toBeGreaterThanOrEqual(2);
  expect(about(/ProtocolHello: host /)).toHaveLength(1);
  expect(about(/CheckpointIntegrations: failed: evil\\n2026/)).toHaveLength(1);
  expect(about(/FsDiff: answer cut .*evil\\n2026/)).toHaveLength(1);
  expect(about(/noisy: .*exit 1: out\\e\[31mred\\u009b2J/).length).toBeGreaterThanOrEqual(1);
  // No line carries a raw control character: none can start a line of its own or drive the terminal.
  for (const l of lines) expect({ line: l, raw: RAW_CONTROL.test(l) }).toEqual({ line: l, raw: false });
  expect(lines.some((l) => l.startsWith(FORGED))).toBe(false);
});
