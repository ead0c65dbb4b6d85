// The dashboard page: every VM's card, worst first, kept live over server-sent events; its style and script are inline, allowed by hash.

import { createHash } from "node:crypto";
import { raw } from "hono/html";
import type { FC } from "hono/jsx";
import type { RenderedCard } from "./dashboard-cards.tsx";

export type { DiffSeen } from "./dashboard-model.ts";

/** Where the page's script listens for updates (the bridge's `dashboard-events` route). */
export const DASHBOARD_EVENTS_PATH = "/api/dashboard/events";

export interface DashboardProps {
  /** The cards, worst first (host/bridge/dashboard-cards.tsx). */
  cards: RenderedCard[];
  title: string;
  summary: string;
  /** How often the bridge sends updates, in seconds (and the page reloads itself without JavaScript). */
  refreshSecs: number;
  /** The value the buttons send as X-MVM-CSRF (host/bridge/auth.ts); "" without auth. */
  csrf: string;
}

/**
 * The page's style. Nothing may overflow its card or the window, at any width: grid tracks shrink to
 * the window (`min()`), flex and grid children may shrink (`min-width: 0`), tables are fixed-layout,
 * and any text breaks anywhere it must (a probe printing 4 KiB without a space included).
 */
const CSS = `
*{box-sizing:border-box}html,body{max-width:100%;overflow-x:hidden}
body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330;overflow-wrap:anywhere}
header{background:#1d2330;color:#fff;padding:12px 20px;display:flex;flex-wrap:wrap;gap:4px 16px;align-items:baseline}
header h1{font-size:18px;margin:0}header .meta{opacity:.75;font-size:12px;min-width:0}
main{padding:16px 20px;display:grid;grid-template-columns:repeat(auto-fill,minmax(min(360px,100%),1fr));gap:14px;align-items:start}
@media (max-width:480px){main{padding:10px 8px;gap:10px}header{padding:10px 8px}}
.vm{background:#fff;border:1px solid #dde1e8;border-left-width:5px;border-radius:8px;padding:12px 14px;min-width:0;overflow:hidden}
.vm.sev-unreachable,.vm.sev-agent-error,.vm.sev-error{border-left-color:#c62828}.vm.sev-not-ready,.vm.sev-warning{border-left-color:#d89b00}
.vm.sev-asleep{border-left-color:#8a93a6}.vm.sev-ok{border-left-color:#2e8b57}
.vm h2{font-size:16px;margin:0 0 4px;display:flex;justify-content:space-between;align-items:baseline;gap:8px;min-width:0}
.vm h2 .name{min-width:0;overflow-wrap:anywhere}.vm h2 .badge{flex-shrink:0;white-space:nowrap}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;max-width:100%;overflow-wrap:anywhere;white-space:normal}
.ok{background:#d9f5e1;color:#11622d}.bad{background:#fde0e0;color:#8a1111}.warn{background:#fff1cc;color:#7a5300}.mute{background:#eceef2;color:#4a5263}
.labels{display:flex;flex-wrap:wrap;gap:4px;margin:4px 0}.chip{background:#eef2fb;color:#243b6b;border-radius:4px;padding:0 6px;font-size:12px;max-width:100%;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin-top:6px;table-layout:fixed}td,th{text-align:left;padding:2px 4px;border-top:1px solid #eef0f4;vertical-align:top;overflow-wrap:anywhere;word-break:break-word}
th{font-weight:600;color:#4a5263;font-size:12px}table[data-table] tr>:first-child{width:38%}
table.kv th{width:45%;font-weight:500}.detail{color:#6b7385;font-size:12px}.row{margin:4px 0}
.value{font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap}
.skipped ul{margin:4px 0;padding-left:18px;font-size:12px;color:#8a1111}
details{margin-top:4px;border-top:1px solid #eef0f4;padding-top:2px}summary{cursor:pointer;font-size:12px;color:#4a5263}
.empty{padding:30px;color:#6b7385}
button{font:inherit;font-size:12px;padding:1px 8px;margin:0 4px 2px 0;cursor:pointer}
a.button{display:inline-block;margin-top:6px;padding:2px 10px;border:1px solid #b8c0cf;border-radius:6px;background:#f6f7f9;color:#1d2330;text-decoration:none;font-size:13px}
[data-field=live]{font-size:12px;opacity:.75}
`;

/**
 * The page's script. Buttons: a POST with a JSON body and the CSRF header, same origin only, then the
 * answer's code in the card. Live: an EventSource on the bridge's own events route (connect-src
 * 'self'; the login cookie goes along) whose `update` events carry the cards that changed, as HTML the
 * bridge rendered and escaped, and the order: a card is replaced only when its hash changed, keeping
 * its action result and open sections. The page's CSP allows this script (by hash) and nothing else.
 */
const SCRIPT = `"use strict";
(() => {
  const csrf = document.querySelector('meta[name="mvm-csrf"]').content;
  document.addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (!b) return;
    const out = b.parentElement.querySelector('[data-field="action-result"]');
    const action = b.dataset.action;
    b.disabled = true;
    out.textContent = action + "...";
    try {
      const r = await fetch("/api/vms/" + encodeURIComponent(b.closest("section[data-vm]").dataset.vm) + "/" + action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "x-mvm-csrf": csrf },
        body: "{}",
      });
      const j = await r.json().catch(() => ({}));
      out.textContent = r.ok ? action + ": done" : action + ": failed (" + r.status + " " + (j.code || "") + ") " + (j.message || "");
    } catch (e) {
      out.textContent = action + ": " + e;
    } finally {
      b.disabled = false;
    }
  });
  const main = document.querySelector("main");
  const live = document.querySelector('[data-field="live"]');
  const summary = document.querySelector('[data-field="summary"]');
  const empty = document.querySelector(".empty");
  const tpl = document.createElement("template");
  function apply(u) {
    document.title = u.title;
    summary.textContent = u.summary;
    const had = new Map();
    for (const s of main.querySelectorAll("section[data-vm]")) had.set(s.dataset.vm, s);
    const cards = new Map(u.cards.map((c) => [c.name, c]));
    for (const name of u.order) {
      let el = had.get(name);
      const c = cards.get(name);
      if (c && (!el || el.dataset.hash !== c.hash)) {
        tpl.innerHTML = c.html;
        const fresh = tpl.content.firstElementChild;
        if (el) {
          const before = el.querySelector('[data-field="action-result"]');
          const after = fresh.querySelector('[data-field="action-result"]');
          if (before && after) after.textContent = before.textContent;
          for (const d of el.querySelectorAll("details[open]")) {
            const f = fresh.querySelector('details[data-plugin="' + CSS.escape(d.dataset.plugin) + '"]');
            if (f) f.open = true;
          }
          el.replaceWith(fresh);
        }
        el = fresh;
      }
      if (el) main.appendChild(el);
      had.delete(name);
    }
    for (const el of had.values()) el.remove();
    empty.hidden = u.order.length > 0;
  }
  const es = new EventSource("${DASHBOARD_EVENTS_PATH}");
  es.addEventListener("update", (ev) => {
    try {
      apply(JSON.parse(ev.data));
      live.textContent = "live";
    } catch (e) {
      live.textContent = "update failed: " + e;
    }
  });
  es.addEventListener("open", () => (live.textContent = "live"));
  es.addEventListener("error", () => {
    live.textContent = es.readyState === EventSource.CLOSED ? "disconnected: reload the page" : "reconnecting...";
  });
})();`;

/** A CSP source naming exactly this inline text. */
export const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

/** The dashboard's Content-Security-Policy: its own style and script (by hash), requests to itself only (fetch, EventSource), no framing. */
export const DASHBOARD_CSP = `default-src 'none'; style-src ${sha256(CSS)}; script-src ${sha256(SCRIPT)}; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

/** The whole page. Without JavaScript it reloads itself every `refreshSecs` (a meta refresh inside noscript). */
export const Dashboard: FC<DashboardProps> = ({ cards, title, summary, refreshSecs, csrf }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <noscript>
        <meta http-equiv="refresh" content={String(refreshSecs)} />
      </noscript>
      <meta name="mvm-csrf" content={csrf} />
      <title>{title}</title>
      <style dangerouslySetInnerHTML={{ __html: CSS }} />
    </head>
    <body>
      <header>
        <h1>mvm bridge</h1>
        <span class="meta" data-field="summary">
          {summary}
        </span>
        <span class="meta" data-field="live">
          connecting...
        </span>
      </header>
      <main>
        <div class="empty" hidden={cards.length > 0}>
          No VMs in vms.json.
        </div>
        {raw(cards.map((c) => c.html).join(""))}
      </main>
      <script dangerouslySetInnerHTML={{ __html: SCRIPT }} />
    </body>
  </html>
);

/** The page as an HTML document string. */
export function renderDashboard(props: DashboardProps): string {
  return "<!doctype html>" + (<Dashboard {...props} />).toString();
}
