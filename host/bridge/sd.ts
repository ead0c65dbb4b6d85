// GET /api/sd: Prometheus HTTP service discovery for this host's VMs, one target group per VM, scraped back through this bridge.

import type { VmEntry } from "../client/vm-list.ts";

/** One target group of Prometheus' HTTP SD format (`[{"targets": [...], "labels": {...}}]`). */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/**
 * The target groups for Prometheus' `http_sd_configs`: one per VM, whose target is this bridge (the
 * address Prometheus used to ask, `host`, already checked against the Host allow-list) and whose
 * labels make Prometheus scrape `/metrics?vm=NAME` (`__metrics_path__`, `__param_vm`) and label the
 * VM's series with `vm` and its vms.json labels (checked as Prometheus label names when vms.json is
 * read). A VM is a target of its own, as with blackbox_exporter, so each has its own `up`, its own
 * scrape timeout, and its labels as target labels; a central Prometheus asking every host's bridge
 * then discovers every VM of the fleet. An empty vms.json is `[]`, as the format asks.
 * @example serviceDiscovery([{ name: "web1", agent: "unix:/a", labels: { tier: "web" } }], "bridge-a.internal:7070")
 * // [{ targets: ["bridge-a.internal:7070"], labels: { __metrics_path__: "/metrics", __param_vm: "web1", vm: "web1", tier: "web" } }]
 */
export function serviceDiscovery(vms: readonly VmEntry[], host: string): TargetGroup[] {
  return vms.map((vm) => ({
    targets: [host],
    labels: { __metrics_path__: "/metrics", __param_vm: vm.name, vm: vm.name, ...(vm.labels ?? {}) },
  }));
}
