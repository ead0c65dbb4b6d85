// The dashboard's hub: one poll per period for every open page, diff totals from the count mode, and no poll without a page.

import { describe, expect, test } from "bun:test";
import { waitFor } from "../../agent/testing.ts";
import type { VmCallOptions } from "../client/overview.ts";
import type { VmEntry } from "../client/vm-list.ts";
import { dashboardHub, type DashboardState } from "./dashboard-live.ts";
import type { DiffSeen } from "./dashboard-model.ts";

const STATUS = { agent: "mvm-guest-agent", version: "1.2.3", build: "prod", pid: 1, started_at: "2026-01-01T00:00:00Z", uptime_secs: 3700, state: "running", connections: 1, work_in_flight: 0, plugins: {} };

function source(answers: Record<string, (params: unknown) => unknown>) {
  const calls: string[] = [];
  const call = async (vm: VmEntry, type: string, params: Record<string, unknown> | undefined, _o: VmCallOptions) => {
    calls.push(`${vm.name}:${type}${type === "fs-diff" ? JSON.stringify(params) : ""}`);
    const a = answers[type];
    if (!a) throw Object.assign(new Error(`no ${type}`), { code: "E_UNKNOWN_REQUEST" });
    return a(params);
  };
  const diffs = new Map<string, DiffSeen>();
  const vms = [{ name: "a", agent: "unix:/a" }, { name: "b", agent: "unix:/b" }];
  return { calls, diffs, src: { vms: () => vms, call, callMs: 1000, now: () => Date.parse("2026-01-01T01:00:00Z"), refreshSecs: 3600, snapshots: false, diffs, version: "9" } };
}

describe("dashboardHub", () => {
  test("two pages share one poll: the same state, one round of agent calls; no page, no poll", async () => {
    const s = source({ status: () => STATUS, "fs-diff": () => ({ summary: { created: 3, modified: 1, deleted: 1, bytes: 9 }, next_cursor: null }) });
    const hub = dashboardHub(s.src);
    const got: DashboardState[][] = [[], []];
    let both!: () => void;
    const done = new Promise<void>((r) => (both = r));
    const offA = hub.subscribe((st) => void got[0]!.push(st));
    const offB = hub.subscribe((st) => {
      got[1]!.push(st);
      both();
    });
    await done;
    expect(got[0]![0]).toBe(got[1]![0]!);
    // One status per VM (health, probes and worker-status too, each once) and one count-mode fs-diff each.
    expect(s.calls.filter((c) => c.endsWith(":status")).sort()).toEqual(["a:status", "b:status"]);
    expect(s.calls.filter((c) => c.includes("fs-diff"))).toEqual(['a:fs-diff{"summary_only":true}', 'b:fs-diff{"summary_only":true}']);
    expect(s.diffs.get("a")!.summary).toEqual({ created: 3, modified: 1, deleted: 1, bytes: 9 });
    expect(got[0]![0]!.summary).toContain("2 of 2 VMs reachable");
    expect(hub.polling()).toBe(true); // the next poll is scheduled
    offA();
    expect(hub.polling()).toBe(true);
    offB();
    // The round that fed the pages ends, and no other is scheduled.
    await waitFor(() => !hub.polling(), 5000, "the poll to stop");
    const calls = s.calls.length;
    await hub.state(); // (a state asked for directly still works)
    expect(s.calls.length).toBeGreaterThan(calls);
    expect(hub.polling()).toBe(false);
    hub.close();
  });

  test("an agent that cannot count the whole diff says so on the card; the totals are asked again a minute later only", async () => {
    const s = source({ status: () => STATUS, "fs-diff": () => Promise.reject(Object.assign(new Error("invalid params"), { code: "E_INVALID_PARAMS", fromAgent: true })) });
    const hub = dashboardHub(s.src);
    const st = await hub.state();
    expect(st.cards[0]!.html).toContain("this agent cannot count the whole diff (no summary_only): upgrade it");
    await hub.state();
    expect(s.calls.filter((c) => c.includes("fs-diff")).length).toBe(2); // once per VM, not once per state()
    hub.close();
  });
});
