// GET /api/sd: Prometheus' HTTP SD format, one target group per VM aimed back at this bridge, behind the token.

import { describe, expect, test } from "bun:test";
import { createBridge } from "./app.ts";
import { serviceDiscovery } from "./sd.ts";

const call = async () => ({});

describe("/api/sd", () => {
  test("one group per VM: this bridge's address as Host named it, the per-VM path and param, vm and the vms.json labels", async () => {
    const vms = [
      { name: "web1", agent: "unix:/a", labels: { tier: "web", note: 'say "hi"' } },
      { name: "db1", agent: "unix:/b" },
    ];
    const bridge = createBridge({ vms: () => vms, call, token: "tok", allowHosts: ["bridge-a.internal"] });
    const r = await bridge.app.request("http://bridge-a.internal:7070/api/sd", { headers: { authorization: "Bearer tok" } });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toStartWith("application/json");
    expect(await r.json()).toEqual([
      { targets: ["bridge-a.internal:7070"], labels: { __metrics_path__: "/metrics", __param_vm: "web1", vm: "web1", tier: "web", note: 'say "hi"' } },
      { targets: ["bridge-a.internal:7070"], labels: { __metrics_path__: "/metrics", __param_vm: "db1", vm: "db1" } },
    ]);
  });

  test("no VMs is an empty list (200), as the format asks; without the token it is 401; another Host is 403", async () => {
    const bridge = createBridge({ vms: () => [], call, token: "tok" });
    const ok = await bridge.app.request("http://127.0.0.1:7070/api/sd", { headers: { authorization: "Bearer tok" } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("[]");
    expect((await bridge.app.request("http://127.0.0.1:7070/api/sd")).status).toBe(401);
    expect((await bridge.app.request("http://evil.example/api/sd", { headers: { authorization: "Bearer tok" } })).status).toBe(403);
  });

  test("serviceDiscovery is the same list", () => {
    expect(serviceDiscovery([{ name: "a", agent: "unix:/a" }], "h:1")).toEqual([{ targets: ["h:1"], labels: { __metrics_path__: "/metrics", __param_vm: "a", vm: "a" } }]);
  });
});
