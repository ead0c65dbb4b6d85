// The dashboard in headless Chromium (Debian `chromium` driven by playwright-core): what a person sees, and that it refreshes itself.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startTestAgent, tempDir, type TestAgent } from "../../agent/testing.ts";
import { clientPool, type ClientPool } from "./pool.ts";
import { launchChromium, warnIfNoBrowser } from "../testing-browser.ts";
import { createBridge } from "./app.ts";
import { fakePlugins, type FakeState, troubledState } from "../testing.ts";

const missing = warnIfNoBrowser("the dashboard");

describe.skipIf(missing)("dashboard in Chromium", () => {
  let agent: TestAgent;
  let state: FakeState;
  let pool: ClientPool;
  let server: ReturnType<typeof Bun.serve>;
  let context: any;
  const profile = tempDir("mvm-chromium-");

  beforeAll(async () => {
    state = troubledState();
    agent = await startTestAgent({ plugins: fakePlugins(state) });
    pool = clientPool();
    const vms = [
      { name: "vm1", agent: `unix:${agent.socket}` },
      { name: "down", agent: `unix:${join(profile.path, "missing.sock")}` },
    ];
    let port: number | undefined;
    const bridge = createBridge({ vms: () => vms, call: pool.call, refreshSecs: 1, token: "tok", port: () => port });
    server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: bridge.fetch });
    port = server.port;
    context = await launchChromium(join(profile.path, "profile"));
  });

  afterAll(async () => {
    await context?.close();
    await server?.stop(true);
    await pool?.close();
    await agent?.close();
    profile.cleanup();
  });

  test("a person sees every VM, its health, probes, worker and changes; the page refreshes itself", async () => {
    const page = await context.newPage();
    const base = `http://127.0.0.1:${server.port}`;
    const denied = await page.goto(`${base}/`);
    expect(denied.status()).toBe(401);
    expect(await page.textContent("body")).toContain("/?token=TOKEN");
    await page.goto(`${base}/?token=tok`);
    expect(page.url()).toBe(`${base}/`);
    expect(await page.title()).toBe("mvm bridge: 1/2 VMs up");
    const vm1 = page.locator('[data-vm="vm1"]');
    const text = (await vm1.innerText()).replace(/\s+/g, " ");
    expect(text).toContain("vm1 reachable");
    expect(text).toContain("State: running");
    expect(text).toContain("Worker: busy (load 1.50)");
    expect(text).toContain("Health: not ready");
    expect(text).toContain("db error exit 1: connection refused");
    expect(text).toContain("disk-usage 42 percent");
    expect(text).toContain("never not run yet");
    expect(text).toContain("Changes since boot: +0 ~1 -0 (120 bytes)"); // the summary of fs-diff {limit: 1}: one page's
    const down = (await page.locator('[data-vm="down"]').innerText()).replace(/\s+/g, " ");
    expect(down).toContain("down unreachable");
    expect(down).toContain("E_SOCKET_MISSING");
    // The error badge is red, the healthy one green: check what is painted, not only the text.
    const color = (sel: string) => page.locator(sel).first().evaluate((el: unknown) => (globalThis as any).getComputedStyle(el).backgroundColor);
    expect(await color('[data-integration="db"] .badge')).toBe("rgb(253, 224, 224)");
    expect(await color('[data-integration="web"] .badge')).toBe("rgb(217, 245, 225)");
    await page.screenshot({ path: join(profile.path, "dashboard.png"), fullPage: true });
    if (process.env.MVM_KEEP_SCREENSHOT) await Bun.write(process.env.MVM_KEEP_SCREENSHOT, Bun.file(join(profile.path, "dashboard.png")));
    // Auto-refresh: change the agent's answer and wait for the page to show it without a reload by us.
    state.worker = "idle";
    state.integrations[1]!.status = "healthy";
    await page.waitForFunction(() => (globalThis as any).document.querySelector('[data-vm="vm1"] [data-field="worker"]')?.textContent?.startsWith("idle"), null, { timeout: 15_000 });
    expect((await vm1.locator('[data-field="ready"]').innerText()).trim()).toBe("ready");
  }, 60_000);
});
