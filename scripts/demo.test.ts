// The README's main command: the demo starts a service, an agent and the bridge, and Ctrl-C (SIGINT) leaves no child behind.

import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../agent/testing.ts";
import { alive } from "../test/support/index.ts";

test("demo: bridge answers for the example agent, and SIGINT stops everything cleanly", async () => {
  const demo = Bun.spawn([process.execPath, join(import.meta.dir, "demo.ts"), "--port", "0", "--service-port", "0"], { stdout: "pipe", stderr: "pipe" });
  const reader = demo.stdout.getReader();
  let out = "";
  try {
    while (!out.includes("Ctrl-C stops everything")) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`demo exited early:\n${out}\n${await new Response(demo.stderr).text()}`);
      out += new TextDecoder().decode(value);
    }
    const [, url, token] = /dashboard\s+(http:\/\/127\.0\.0\.1:\d+\/)\?token=([A-Za-z0-9_-]{43})\n/.exec(out)!;
    const headers = { authorization: `Bearer ${token}` };
    // the printed curl lines carry the token file, which holds the token of the dashboard address
    const tokenFile = /Bearer \$\(cat (\S+)\)/.exec(out)![1]!;
    expect(readFileSync(tokenFile, "utf8").trim()).toBe(token!);
    expect((await fetch(`${url}api/vms`)).status).toBe(401);
    const login = await fetch(`${url}?token=${token}`, { redirect: "manual" });
    expect(login.status).toBe(303);
    const [, agentPid, servicePid, dir] = /Agent pid (\d+), service pid (\d+), files in (\S+)\./.exec(out)!;
    expect(out).toContain("export MVMCTL_VMS=");
    // the agent's health check reaches the example service
    await waitFor(async () => {
      const r = (await (await fetch(`${url}api/vms/demo/health`, { headers })).json()) as any;
      return r.integrations?.some((i: any) => i.name === "demo-web" && i.status === "healthy");
    }, 20_000, "demo-web to be healthy");
    expect(((await (await fetch(`${url}api/vms`, { headers })).json()) as any).vms[0].reachable).toBe(true);
    demo.kill("SIGINT");
    expect(await demo.exited).toBe(0);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    expect(out).toContain("demo stopped");
    expect(alive(Number(agentPid))).toBe(false);
    expect(alive(Number(servicePid))).toBe(false);
    expect(existsSync(dir!)).toBe(false);
    await expect(fetch(url)).rejects.toThrow();
  } finally {
    if (demo.exitCode === null) demo.kill("SIGKILL");
  }
}, 60_000);
