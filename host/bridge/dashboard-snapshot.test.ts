// The dashboard's snapshot page in headless Chromium: a person takes a snapshot and restores it, and hostile text stays text.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../agent/testing.ts";
import { launchChromium, warnIfNoBrowser } from "../testing-browser.ts";
import { clientPool, type ClientPool } from "./pool.ts";
import { createBridge } from "./app.ts";
import type { VmEntry } from "../client/vm-list.ts";
import { callIs, FakeFirecracker } from "../client/vmm/fake-firecracker.ts";
import { loopAgent, type LoopAgent } from "../testing.ts";

const missing = warnIfNoBrowser("the dashboard's snapshot page");

describe.skipIf(missing)("snapshot page in Chromium", () => {
  const tmp = tempDir("mvm-snap-page-");
  const root = join(tmp.path, "root");
  let agent: LoopAgent;
  let fc: FakeFirecracker;
  let pool: ClientPool;
  let server: ReturnType<typeof Bun.serve>;
  let context: any;
  let vms: VmEntry[];
  let base = "";

  beforeAll(async () => {
    mkdirSync(root);
    agent = await loopAgent();
    fc = await FakeFirecracker.start(join(tmp.path, "fc.sock"), { booted: true });
    vms = [
      { name: "web1", agent: agent.address, vmm: { kind: "firecracker", api: fc.socket } },
      { name: "novmm", agent: agent.address },
    ];
    pool = clientPool();
    const bridge = createBridge({ vms: () => vms, call: pool.call, token: "tok", snapshotRoot: root, refreshSecs: 60 });
    server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: bridge.fetch });
    base = `http://127.0.0.1:${server.port}`;
    context = await launchChromium(join(tmp.path, "profile"));
  });

  afterAll(async () => {
    await context?.close();
    await server?.stop(true);
    await pool?.close();
    await fc?.stop();
    await agent?.close();
    tmp.cleanup();
  });

  const stepRows = (page: any): Promise<string[]> => page.$$eval("[data-table=steps] tbody tr", (trs: any[]) => trs.map((tr) => `${tr.children[0].textContent} ${tr.children[1].textContent}`));

  test("from the dashboard's button: take a snapshot (each step shown), then restore it into a fresh Firecracker", async () => {
    const page = await context.newPage();
    // The page runs under its own CSP (same-origin script, hashed style) and sends the CSRF header: nothing may be refused.
    const blocked: string[] = [];
    page.on("console", (m: any) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) blocked.push(m.text());
    });
    await page.goto(`${base}/?token=tok`);
    expect(await page.locator('[data-vm="web1"] [data-action="snapshot"]').count()).toBe(1);
    expect(await page.locator('[data-vm="novmm"] [data-action="snapshot"]').count()).toBe(0);
    await page.click('[data-vm="web1"] [data-action="snapshot"]');
    expect(page.url()).toBe(`${base}/vms/web1/snapshot`);
    expect(await page.inputValue("input[name=to]")).toMatch(/^web1\/\d{8}-\d{6}$/);
    await page.fill("input[name=to]", "web1/from-browser");
    await page.check("input[name=then][value=stop]");
    await page.click("[data-action=snapshot]");
    await page.waitForFunction(() => /snapshot (done|failed|refused)/.test((globalThis as any).document.querySelector("[data-field=outcome]").textContent), null, { timeout: 20_000 });
    expect(await page.textContent("[data-field=outcome]")).toStartWith("snapshot done in ");
    expect(await stepRows(page)).toEqual(["check ok", "sleep-prep ok", "pause ok", "write ok", "stop ok", "manifest ok"]);
    expect(existsSync(join(root, "web1", "from-browser", "manifest.json"))).toBe(true);
    expect(fc.state).toBe("Paused");

    // The VM's Firecracker is replaced by a fresh one waiting for state; the page offers the snapshot.
    await fc.stop();
    fc = await FakeFirecracker.start(join(tmp.path, "fc2.sock"));
    vms[0] = { ...vms[0]!, vmm: { kind: "firecracker", api: fc.socket } };
    await page.reload();
    expect(await page.inputValue("input[name=from]")).toBe("web1/from-browser");
    await page.click("[data-action=restore]");
    await page.waitForFunction(() => /restore (done|failed|refused)/.test((globalThis as any).document.querySelector("[data-field=outcome]").textContent), null, { timeout: 20_000 });
    expect(await page.textContent("[data-field=outcome]")).toStartWith("restore done in ");
    expect(await stepRows(page)).toEqual(["check ok", "load ok", "wake ok", "health ok"]);
    expect(fc.callNames).toContain("PUT /snapshot/load");
    expect(await agent.state()).toBe("running");
    expect(blocked).toEqual([]);
    await page.close();
  }, 60_000);

  test("refusals and failures are shown as text: an escaping name, a VMM fault carrying HTML", async () => {
    const page = await context.newPage();
    await page.goto(`${base}/?token=tok`);
    await page.goto(`${base}/vms/web1/snapshot`);
    await page.fill("input[name=to]", "../../etc");
    await page.click("[data-action=snapshot]");
    await page.waitForFunction(() => /refused/.test((globalThis as any).document.querySelector("[data-field=outcome]").textContent), null, { timeout: 20_000 });
    expect(await page.textContent("[data-field=outcome]")).toContain("snapshot refused (E_INVALID_PARAMS): body: /to: ");

    // A fresh, booted Firecracker whose create fails with HTML in its fault message.
    await fc.stop();
    fc = await FakeFirecracker.start(join(tmp.path, "fc3.sock"), {
      booted: true,
      fail: (c) => (callIs("PUT /snapshot/create")(c) ? { status: 400, fault: '<img src=x onerror="window.pwned=1">' } : undefined),
    });
    vms[0] = { ...vms[0]!, vmm: { kind: "firecracker", api: fc.socket } };
    await page.fill("input[name=to]", "web1/hostile");
    await page.click("[data-action=snapshot]");
    await page.waitForFunction(() => /snapshot failed/.test((globalThis as any).document.querySelector("[data-field=outcome]").textContent), null, { timeout: 20_000 });
    expect(await page.textContent("[data-field=outcome]")).toContain('<img src=x onerror="window.pwned=1">');
    expect(await page.evaluate(() => (globalThis as any).pwned)).toBeUndefined();
    expect(await page.locator("main img").count()).toBe(0);
    const rows = await stepRows(page);
    expect(rows).toContain("write failed");
    expect(rows.slice(-2)).toEqual(["recover ok", "wake ok"]);
    await page.close();
  }, 60_000);
});
