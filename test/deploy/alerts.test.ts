// deploy/prometheus: the alert rules pass `promtool check rules` and their unit tests (`promtool test rules`),
// every rule has a test group, and every metric a rule or the scrape config names is one the bridge exposes.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FAMILIES } from "../../host/bridge/metrics.ts";
import { run } from "../package/procs.ts";
import { metricNames, prometheusMissing, promtool } from "./prometheus-harness.ts";
import { ROOT } from "./units.ts";

const DIR = join(ROOT, "deploy/prometheus");
const RULES = readFileSync(join(DIR, "mvm-alerts.yml"), "utf8");
const TESTS = readFileSync(join(DIR, "mvm-alerts.test.yml"), "utf8");
const missing = prometheusMissing("promtool check rules / test rules on deploy/prometheus/mvm-alerts.yml");

describe("alert rules", () => {
  test("each rule has unit tests, and its expression names only metrics the bridge exposes (or Prometheus' up)", () => {
    const alerts = [...RULES.matchAll(/- alert: (\S+)/g)].map((m) => m[1]!);
    expect(alerts.sort()).toEqual(["MvmAgentDown", "MvmBridgeDown", "MvmConfigFilesSkipped", "MvmIntegrationNotReady", "MvmProbeStale", "MvmSleepPrepFailing"]);
    for (const a of alerts) expect(TESTS).toContain(`alertname: ${a}`);
    const exprs = [...RULES.matchAll(/expr: (.+)/g)].map((m) => m[1]!);
    for (const e of exprs) for (const name of metricNames(e)) expect({ expr: e, name, known: name === "up" || name in FAMILIES }).toEqual({ expr: e, name, known: true });
  });

  test.skipIf(missing)("promtool check rules and promtool test rules pass", async () => {
    const check = await run([promtool!, "check", "rules", join(DIR, "mvm-alerts.yml")]);
    expect(`${check.stdout}${check.stderr}`).toContain("SUCCESS: 6 rules found");
    expect(check.code).toBe(0);
    const t = await run([promtool!, "test", "rules", "mvm-alerts.test.yml"], { cwd: DIR });
    expect(`${t.stdout}${t.stderr}`).toContain("SUCCESS");
    expect(t.code).toBe(0);
  });

  test("metricNames reads names out of expressions", () => {
    expect(metricNames('sum without (state) (mvm_health_integration_state{state=~"error|pending"}) == 1')).toEqual(["mvm_health_integration_state"]);
    expect(metricNames("increase(mvm_sleep_prep_failures_total[1h]) > 0")).toEqual(["mvm_sleep_prep_failures_total"]);
    expect(metricNames('histogram_quantile(0.99, sum by (le, route) (rate(mvm_bridge_request_duration_seconds_bucket{job="x"}[5m])))')).toEqual(["mvm_bridge_request_duration_seconds_bucket"]);
    expect(metricNames('sum by (vm) (rate(mvm_health_check_failures_total{vm=~"$vm"}[$__rate_interval])) / on(vm) group_left mvm_agent_up')).toEqual(["mvm_health_check_failures_total", "mvm_agent_up"]);
  });
});
