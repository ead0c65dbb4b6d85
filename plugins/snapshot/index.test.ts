// Tests of the snapshot module: flags to options, bad flags, and the plugin it builds.

import { expect, test } from "bun:test";
import { createAgent } from "../../agent/agent.ts";
import { parseFlags } from "../../agent/flags.ts";
import { memoryLogger } from "../../agent/log.ts";
import { snapshotModule, snapshotOptionsFromFlags } from "./index.ts";

const config = { configDir: "/nonexistent", build: "dev" as const, version: "0", maxFrameBytes: 1 << 20, file: {} };

test("defaults: watchdog 600 s, /proc/sys/vm/drop_caches, the clock decided by the listeners (no setClock)", () => {
  const { values } = parseFlags([], snapshotModule.flags!);
  expect(snapshotOptionsFromFlags(values)).toEqual({ resumeAfterSecs: 600, dropCachesPath: "/proc/sys/vm/drop_caches" });
  expect(snapshotOptionsFromFlags(parseFlags(["--set-clock"], snapshotModule.flags!).values)).toMatchObject({ setClock: true });
});

test("flags reach the options", () => {
  const { values } = parseFlags(["--resume-after-secs", "0", "--drop-caches-path=/tmp/dc", "--no-set-clock"], snapshotModule.flags!);
  expect(snapshotOptionsFromFlags(values)).toEqual({ resumeAfterSecs: 0, dropCachesPath: "/tmp/dc", setClock: false });
});

test("bad flags name the flag", () => {
  expect(() => snapshotOptionsFromFlags({ "resume-after-secs": -1 })).toThrow("--resume-after-secs: expected seconds from 0 (never)");
  expect(() => snapshotOptionsFromFlags({ "drop-caches-path": "" })).toThrow("--drop-caches-path: expected a file path");
});

test("the module builds the snapshot plugin with sleep-prep, wake and a status section", async () => {
  const p = snapshotModule.create({ flags: {}, config })!;
  expect(p.name).toBe("snapshot");
  expect(Object.keys(p.requests!)).toEqual(["sleep-prep", "wake"]);
  const agent = createAgent({ plugins: [p], log: memoryLogger() });
  await agent.start();
  const status = await agent.call("status");
  expect(status.plugins.snapshot).toMatchObject({ state: "running", busy: null, last_sleep_prep: null, last_wake: null });
  await agent.stop();
});
