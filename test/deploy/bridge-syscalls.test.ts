// The bridge unit's SystemCallFilter= and RestrictAddressFamilies= against what the compiled bridge really
// calls (strace, while it serves every kind of route and calls an agent): nothing it calls is filtered,
// so the filter cannot change what it does. The groups are expanded by systemd-analyze itself.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, waitFor } from "../../agent/testing.ts";
import { compiledOnce, startCompiledAgent } from "../package/binaries.ts";
import { spawnLogged } from "../package/procs.ts";
import { execStart, loadUnit, localArgv } from "./units.ts";

const strace = Bun.which("strace");
const analyze = Bun.which("systemd-analyze");
const missing = !strace ? "strace is not installed (apt-get install strace)" : !analyze ? "systemd-analyze is not installed (apt-get install systemd)" : null;
if (missing) console.warn(`\n!!! SKIPPED: the bridge's system calls were NOT checked against its unit's filter: ${missing}.\n`);

/** Every syscall group systemd knows, as `@name -> members` (members may be groups). */
function syscallGroups(): Map<string, string[]> {
  const out = Bun.spawnSync([analyze!, "syscall-filter"], { stdout: "pipe", env: { PATH: "/usr/bin:/bin", SYSTEMD_COLORS: "0", SYSTEMD_PAGER: "" } }).stdout.toString();
  const groups = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of out.split("\n")) {
    if (/^@[\w-]+$/.test(line)) groups.set(line, (current = []));
    else if (line.trim() === "" || line.trim().startsWith("#")) continue;
    else if (/^\s+[@\w-]+$/.test(line) && current) current.push(line.trim());
    else current = null;
  }
  return groups;
}

/** The syscalls a SystemCallFilter= list allows: allow-list entries, minus `~` deny entries, groups expanded. */
function allowed(filters: string[], groups: Map<string, string[]>): Set<string> {
  const expand = (name: string, seen = new Set<string>()): string[] => {
    if (!name.startsWith("@")) return [name];
    if (seen.has(name)) return [];
    seen.add(name);
    const members = groups.get(name);
    if (!members) throw new Error(`systemd-analyze does not know the group ${name}`);
    return members.flatMap((m) => expand(m, seen));
  };
  const allow = new Set<string>();
  for (const f of filters) {
    const deny = f.startsWith("~");
    for (const item of (deny ? f.slice(1) : f).split(/\s+/).filter(Boolean))
      for (const call of expand(item)) deny ? allow.delete(call) : allow.add(call);
  }
  return allow;
}

describe.skipIf(missing !== null)("the compiled bridge under strace, against mvm-bridge.service", () => {
  const d = tempDir("mvm-syscalls-");
  const trace = join(d.path, "trace");
  let calls = new Map<string, number>();
  let families = new Set<string>();
  const running: ReturnType<typeof spawnLogged>[] = [];

  beforeAll(async () => {
    const bin = await compiledOnce();
    const { sock, agent } = await startCompiledAgent(d.path);
    running.push(agent);
    writeFileSync(join(d.path, "vms.json"), JSON.stringify({ vms: [{ name: "vm1", agent: `unix:${sock}` }, { name: "gone", agent: `unix:${join(d.path, "none.sock")}` }] }));
    const argv = localArgv(execStart(loadUnit("mvm-bridge.service")), bin.mvmctl, { "/var/lib/mvm-bridge": d.path, "/etc/mvm": d.path });
    const bridge = spawnLogged([strace!, "-f", "-qq", "-o", trace, ...argv], { cwd: d.path, env: { PATH: "/usr/bin:/bin" } });
    running.push(bridge);
    const url = (await bridge.match(/mvm bridge on (http:\/\/127\.0\.0\.1:\d+)/, "the bridge under strace"))[1]!;
    const auth = { authorization: `Bearer ${readFileSync(join(d.path, "bridge-token"), "utf8").trim()}` };
    for (const path of ["/healthz", "/metrics", "/", "/api/vms", "/api/vms/vm1", "/api/vms/vm1/health", "/api/vms/gone", "/openapi.json", "/nothing"]) {
      const r = await fetch(url + path, { headers: auth });
      expect(r.status).toBeLessThan(path === "/nothing" || path === "/api/vms/gone" ? 600 : 400);
      await r.arrayBuffer();
    }
    const post = await fetch(`${url}/api/vms/vm1/wake`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{}" });
    await post.arrayBuffer();
    // The traced bridge is strace's child; SIGTERM it (not strace, which would detach).
    const child = Number(readFileSync(`/proc/${bridge.proc.pid}/task/${bridge.proc.pid}/children`, "utf8").trim().split(" ")[0]);
    process.kill(child, "SIGTERM");
    expect(await bridge.proc.exited).toBe(0);
    await waitFor(() => bridge.output().includes("mvm bridge stopped"), 10_000, "the bridge's last line");
    const text = readFileSync(trace, "utf8");
    calls = new Map();
    for (const m of text.matchAll(/^\d+\s+([a-z0-9_]+)\(/gm)) calls.set(m[1]!, (calls.get(m[1]!) ?? 0) + 1);
    families = new Set([...text.matchAll(/^\d+\s+socket\((AF_\w+)/gm)].map((m) => m[1]!));
  }, 180_000);
  afterAll(async () => {
    await Promise.all(running.map((r) => r.stop()));
    d.cleanup();
  });

  test("every system call it made is allowed by SystemCallFilter= (so EPERM never replaces an answer)", () => {
    const filters = loadUnit("mvm-bridge.service").Service!.SystemCallFilter!;
    expect(filters.length).toBeGreaterThan(0);
    const ok = allowed(filters, syscallGroups());
    // The expansion itself: allowed by @system-service, taken out by ~@privileged @resources, never allowed.
    expect(["read", "epoll_pwait", "accept4"].filter((c) => !ok.has(c))).toEqual([]);
    expect(["setrlimit", "setuid", "chown", "mount", "reboot"].filter((c) => ok.has(c))).toEqual([]);
    expect(calls.size).toBeGreaterThan(20);
    expect([...calls.keys()].filter((c) => !ok.has(c)).sort()).toEqual([]);
    console.log(`bridge under strace: ${calls.size} distinct system calls, all in the unit's filter (${ok.size} allowed)`);
  });

  test("every socket it opened is of a family RestrictAddressFamilies= allows", () => {
    const allowedFamilies = loadUnit("mvm-bridge.service").Service!.RestrictAddressFamilies!.join(" ").split(/\s+/);
    expect(families.size).toBeGreaterThan(0);
    expect([...families].filter((f) => !allowedFamilies.includes(f))).toEqual([]);
  });
});
