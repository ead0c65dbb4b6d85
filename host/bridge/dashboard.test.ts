// The dashboard in headless Chromium (Debian `chromium` driven by playwright-core): what a person sees, worst first,
// kept live over server-sent events without a reload, and a layout that never overflows at 1400 and 420 px.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startTestAgent, tempDir, waitFor, type TestAgent } from "../../agent/testing.ts";
import type { VmEntry } from "../client/vm-list.ts";
import { clientPool, type ClientPool } from "./pool.ts";
import { launchChromium, warnIfNoBrowser } from "../testing-browser.ts";
import { createBridge, type Bridge } from "./app.ts";
import { fakePlugins, fakeState, integration, type FakeState, troubledState, T0 } from "../testing.ts";

const missing = warnIfNoBrowser("the dashboard");

/** Agents on fake plugins, a bridge on a real port, Chromium: what each test below drives. */
async function stage(states: Record<string, FakeState>, extra: VmEntry[] = [], opts: { snapshotRoot?: string } = {}) {
  const agents: TestAgent[] = [];
  const vms: VmEntry[] = [];
  for (const [name, s] of Object.entries(states)) {
    const a = await startTestAgent({ plugins: fakePlugins(s) });
    agents.push(a);
    vms.push({ name, agent: `unix:${a.socket}`, labels: { tier: name === "vm2" ? "db" : "web", zone: "eu-1" } });
  }
  vms.push(...extra);
  const pool = clientPool();
  let port: number | undefined;
  const bridge: Bridge = createBridge({ vms: () => vms, call: pool.call, refreshSecs: 1, token: "tok", port: () => port, ...opts });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: bridge.fetch, idleTimeout: 0 });
  port = server.port;
  return {
    vms,
    bridge,
    base: `http://127.0.0.1:${server.port}`,
    async close() {
      bridge.close();
      await server.stop(true);
      await pool.close();
      for (const a of agents) await a.close();
    },
  };
}

/** Collect CSP violations and count page loads from the first script on (before the page's own). */
const WATCH = `window.__csp = []; document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`;

describe.skipIf(missing)("dashboard in Chromium", () => {
  const profile = tempDir("mvm-chromium-");
  let context: any;
  let st: Awaited<ReturnType<typeof stage>>;
  let vm1: FakeState;
  let vm2: FakeState;

  beforeAll(async () => {
    vm1 = troubledState();
    vm2 = fakeState();
    const snaps = join(profile.path, "snaps");
    mkdirSync(snaps);
    st = await stage({ vm1, vm2 }, [{ name: "down", agent: `unix:${join(profile.path, "missing.sock")}`, vmm: { kind: "qemu", qmp: join(profile.path, "qmp.sock") } }], { snapshotRoot: snaps });
    context = await launchChromium(join(profile.path, "profile"));
    await context.addInitScript(WATCH);
  });
  afterAll(async () => {
    await context?.close();
    await st?.close();
    profile.cleanup();
  });

  test("worst first, with since, labels, uptime, version, true diff totals and every plugin's section; live without reloading", async () => {
    const page = await context.newPage();
    const denied = await page.goto(`${st.base}/`);
    expect(denied.status()).toBe(401);
    await page.goto(`${st.base}/?token=tok`);
    expect(page.url()).toBe(`${st.base}/`);
    expect(await page.title()).toBe("mvm bridge: 2/3 VMs up");
    const order = () => page.$$eval("section[data-vm]", (els: any[]) => els.map((e) => `${e.dataset.vm}:${e.dataset.severity}`));
    expect(await order()).toEqual(["down:unreachable", "vm1:error", "vm2:ok"]);
    const text = async (vm: string) => (await page.locator(`[data-vm="${vm}"]`).innerText()).replace(/\s+/g, " ");
    const t1 = await text("vm1");
    expect(t1).toMatch(/^vm1 error since \d\d:\d\d:\d\dZ|^vm1 error since \d{4}-\d\d-\d\d /);
    expect(t1).toContain("tier=web zone=eu-1");
    expect(t1).toMatch(/v0\.0\.0 \(dev\) · up \d+s · running/);
    expect(t1).toContain("Worker: busy (load 1.50) Health: not ready");
    expect(t1).toMatch(/db error since .+? \(\d/);
    expect(t1).toContain("exit 1: connection refused");
    expect(t1).toContain("disk-usage 42 percent");
    expect(t1).toContain("never not run yet");
    // The whole diff (fs-diff {summary_only: true}), as mvmctl diff counts it; no longer one page's "+0 ~1 -0".
    expect(t1).toContain("Changes since boot: 2 created, 1 modified, 1 deleted (2168 bytes)");
    // Every plugin's status section, the custom one's too, as text.
    const plugins = await page.$$eval('[data-vm="vm1"] details[data-plugin]', (els: any[]) => els.map((e) => e.dataset.plugin));
    expect(plugins).toEqual(["acme", "health", "snapshot", "worker"]);
    await page.click('[data-vm="vm1"] details[data-plugin="acme"] summary');
    expect(await text("vm1")).toContain("jobs.queued 3 jobs.running 1 mode batch last_error null");
    const down = await text("down");
    expect(down).toMatch(/^down unreachable since /);
    expect(down).toContain("E_SOCKET_MISSING");
    expect(await page.$('[data-vm="vm2"] [data-field="since"]')).toBeNull(); // ok: nothing to date
    // The error badge is red, the healthy one green: what is painted, not only the text.
    const color = (sel: string) => page.locator(sel).first().evaluate((el: unknown) => (globalThis as any).getComputedStyle(el).backgroundColor);
    expect(await color('[data-integration="db"] .badge')).toBe("rgb(253, 224, 224)");
    expect(await color('[data-integration="web"] .badge')).toBe("rgb(217, 245, 225)");

    // Live: the agents' answers change; the page follows over its event stream, without a reload.
    await page.evaluate(() => ((globalThis as any).__marker = "same page"));
    await page.waitForFunction(() => (globalThis as any).document.querySelector('[data-field="live"]')?.textContent === "live", null, { timeout: 15_000 });
    vm1.worker = "idle";
    vm1.integrations[1] = integration("db", "healthy", "exit 0");
    vm2.integrations[0] = { ...integration("web", "error", "exit 7: down"), since: T0 };
    vm1.acmeStatus = { jobs: { queued: 0, running: 0 }, mode: "idle", note: '<img src=x onerror="alert(1)">' };
    await page.waitForFunction(() => (globalThis as any).document.querySelector('[data-vm="vm1"] [data-field="worker"]')?.textContent?.startsWith("idle"), null, { timeout: 15_000 });
    expect(await order()).toEqual(["down:unreachable", "vm2:error", "vm1:ok"]);
    expect(await text("vm2")).toContain(`since ${T0.slice(0, 10)} ${T0.slice(11, 19)}Z`);
    expect(await page.evaluate(() => (globalThis as any).__marker)).toBe("same page");
    expect(await page.evaluate(() => (globalThis as any).performance.getEntriesByType("navigation").length)).toBe(1);
    expect(await page.$("head > meta[http-equiv=refresh]")).toBeNull();
    // The custom section's hostile text stays text; the section the person opened stays open.
    expect(await page.$('[data-vm="vm1"] img')).toBeNull();
    expect(await text("vm1")).toContain('note <img src=x onerror="alert(1)">');
    expect(await page.locator('[data-vm="vm1"] details[data-plugin="acme"]').evaluate((d: any) => d.open)).toBe(true);
    // Nothing the page did broke its Content-Security-Policy (hashed script and style, connect-src 'self').
    expect(await page.evaluate(() => (globalThis as any).__csp)).toEqual([]);
    // The snapshot page's link still works from the live page.
    await page.click('[data-vm="down"] a[data-action="snapshot"]');
    await page.waitForURL(`${st.base}/vms/down/snapshot`);
    expect(await page.title()).toContain("down");
    await page.close();
  }, 90_000);

  test("the event streams end with their pages", async () => {
    const a = await context.newPage();
    const b = await context.newPage();
    await a.goto(`${st.base}/`);
    await b.goto(`${st.base}/`);
    for (const p of [a, b]) await p.waitForFunction(() => (globalThis as any).document.querySelector('[data-field="live"]')?.textContent === "live", null, { timeout: 15_000 });
    await a.close();
    await b.close();
    // The streams end with their pages; the hub stops polling when the last one goes.
    await waitFor(() => st.bridge.dashboardPages() === 0, 10_000, "no page left subscribed");
  }, 60_000);
});

describe.skipIf(missing)("dashboard layout", () => {
  const profile = tempDir("mvm-chromium-layout-");
  const keep = process.env.MVM_SCREENSHOT_DIR;
  const shots = keep ?? join(profile.path, "shots");
  let context: any;
  let st: Awaited<ReturnType<typeof stage>>;

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    // Everything a guest can make long: names at their longest, a 4 KiB probe value without a space, long details,
    // a custom plugin's deep section; and the longest labels vms.json allows.
    const long = (c: string, n: number) => c.repeat(n);
    const hostile = troubledState({
      integrations: [
        { ...integration(long("i", 64), "error", `exit 1: ${long("E", 3000)}`), since: T0 },
        integration("web", "healthy", "exit 0"),
      ],
      probes: [
        { name: long("p", 64), ok: true, value: long("x", 4096), output: long("x", 4096), unit: "percent", detail: null, exit_code: 0, timed_out: false, duration_ms: 1, checked_at: T0, stale: true, runs_total: 1, failures_total: 0 },
        { name: "json", ok: true, value: { [long("k", 300)]: long("v", 2000), nested: { deep: { deeper: { deepest: 1 } } } }, output: "{}", unit: null, detail: null, exit_code: 0, timed_out: false, duration_ms: 1, checked_at: T0, stale: false, runs_total: 1, failures_total: 0 },
        { name: "failing", ok: false, value: null, output: "", unit: null, detail: `exit 2: ${long("D", 4000)}`, exit_code: 2, timed_out: false, duration_ms: 1, checked_at: T0, stale: false, runs_total: 1, failures_total: 1 },
      ],
      acmeStatus: { [long("K", 500)]: long("V", 5000), list: Array.from({ length: 1000 }, (_, i) => i), ...Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`key${i}`, i])) },
    });
    const labels = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`label_${i}`, long(String.fromCharCode(97 + (i % 26)), i === 0 ? 256 : 20)]));
    st = await stage({ [long("w", 64)]: hostile, vm2: fakeState() }, [{ name: long("d", 64), agent: `unix:${join(profile.path, long("s", 80))}.sock`, labels }]);
    st.vms[0]!.labels = labels;
    context = await launchChromium(join(profile.path, "profile"));
  });
  afterAll(async () => {
    await context?.close();
    await st?.close();
    if (keep) console.log(`dashboard screenshots kept in ${shots}`);
    profile.cleanup();
  });

  for (const width of [1400, 420]) {
    test(`at ${width} px nothing overflows its card or the window`, async () => {
      const page = await context.newPage();
      await page.setViewportSize({ width, height: 900 });
      await page.goto(`${st.base}/?token=tok`);
      // Open every plugin section: the longest rows are inside them.
      await page.$$eval("details", (ds: any[]) => ds.forEach((d) => (d.open = true)));
      const report = await page.evaluate(() => {
        const doc = (globalThis as any).document;
        const win = globalThis as any;
        const out: string[] = [];
        if (doc.documentElement.scrollWidth > win.innerWidth) out.push(`page: scrollWidth ${doc.documentElement.scrollWidth} > ${win.innerWidth}`);
        for (const card of doc.querySelectorAll("section[data-vm]")) {
          const c = card.getBoundingClientRect();
          if (c.right > win.innerWidth + 0.5 || c.left < -0.5) out.push(`card ${card.dataset.vm.slice(0, 10)} outside the window: ${c.left}..${c.right}`);
          if (card.scrollWidth > card.clientWidth) out.push(`card ${card.dataset.vm.slice(0, 10)}: scrollWidth ${card.scrollWidth} > clientWidth ${card.clientWidth}`);
          for (const el of card.querySelectorAll("*")) {
            const r = el.getBoundingClientRect();
            if (r.width === 0 && r.height === 0) continue;
            if (r.right > c.right + 0.5 || r.left < c.left - 0.5) out.push(`${el.tagName.toLowerCase()} in ${card.dataset.vm.slice(0, 10)}: ${r.left}..${r.right} outside ${c.left}..${c.right}`);
          }
        }
        return { problems: out.slice(0, 20), cards: doc.querySelectorAll("section[data-vm]").length };
      });
      await page.screenshot({ path: join(shots, `dashboard-${width}.png`), fullPage: true });
      await page.screenshot({ path: join(shots, `dashboard-${width}-top.png`) }); // the first screen, at a readable size
      expect(report).toEqual({ problems: [], cards: 3 });
      await page.close();
    }, 60_000);
  }
});
