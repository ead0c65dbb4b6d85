// The dashboard's snapshot page for one VM: take a snapshot or restore one, each step shown live (a small same-origin script).

import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { FC } from "hono/jsx";
import { MANIFEST_FILE } from "../client/snapshot/manifest.ts";
import { sha256 } from "./dashboard.tsx";

export interface SnapshotPageProps {
  vm: string;
  vmm: string;
  /** Snapshot names under the root that hold a manifest (for the restore field), newest first. */
  snapshots: string[];
  /** Default name of a new snapshot: `VM/20261128-105719`. */
  suggested: string;
  version: string;
  /** The value the page's script sends as X-MVM-CSRF (host/bridge/auth.ts); "" without auth. */
  csrf: string;
}

const CSS = `
*{box-sizing:border-box}body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 20px;display:flex;gap:16px;align-items:baseline}
header h1{font-size:18px;margin:0}header a{color:#cfd6e4}main{padding:16px 20px;display:grid;gap:14px;max-width:1000px}
section{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:12px 14px}h2{font-size:16px;margin:0 0 8px}
label{margin-right:12px}input[type=text]{width:22em;font:inherit;padding:2px 4px}button{font:inherit;padding:3px 12px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:2px 6px;border-top:1px solid #eef0f4;vertical-align:top}
.ok{color:#11622d}.failed{color:#8a1111;font-weight:600}.running{color:#7a5300}.hint{color:#6b7385;font-size:12px}
[data-field=outcome]{margin-top:8px;font-weight:600}header .meta{color:#cfd6e4}
`;

/**
 * The page's script: posts the form as JSON (state changes are JSON-only), reads the answer's
 * server-sent events and shows each step as it starts and ends. Text goes in through textContent only.
 */
export const SNAPSHOT_JS = `"use strict";
(() => {
  const vm = document.body.dataset.vm;
  const rows = document.querySelector("[data-table=steps] tbody");
  const outcome = document.querySelector("[data-field=outcome]");
  const buttons = document.querySelectorAll("button");
  const ms = (n) => (n < 1000 ? Math.round(n) + " ms" : (n / 1000).toFixed(1) + " s");
  function row(step) {
    let tr = rows.querySelector('tr[data-step="' + CSS.escape(step) + '"]:last-child');
    if (!tr || tr.dataset.status !== "running") {
      tr = document.createElement("tr");
      tr.dataset.step = step;
      for (let i = 0; i < 4; i++) tr.appendChild(document.createElement("td"));
      rows.appendChild(tr);
    }
    return tr;
  }
  function show(e) {
    const tr = row(e.step);
    tr.dataset.status = e.status;
    const [name, status, time, detail] = tr.children;
    name.textContent = e.step;
    status.textContent = e.status === "running" ? "..." : e.status;
    status.className = e.status;
    time.textContent = e.status === "running" ? "" : ms(e.ms);
    detail.textContent = e.detail;
  }
  function done(text, ok) {
    outcome.textContent = text;
    outcome.className = ok ? "ok" : "failed";
    buttons.forEach((b) => (b.disabled = false));
  }
  async function run(kind, body) {
    rows.textContent = "";
    outcome.textContent = kind + " running...";
    outcome.className = "running";
    buttons.forEach((b) => (b.disabled = true));
    let res;
    try {
      res = await fetch("/api/vms/" + encodeURIComponent(vm) + "/" + kind + "?stream=1", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream", "X-MVM-CSRF": document.querySelector('meta[name="mvm-csrf"]').content },
        body: JSON.stringify(body),
      });
    } catch (err) {
      return done(kind + " failed: " + err, false);
    }
    if (!res.ok) {
      const e = await res.json().catch(() => ({ code: res.status, message: res.statusText }));
      return done(kind + " refused (" + e.code + "): " + e.message, false);
    }
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { done: end, value } = await reader.read();
      if (end) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\\n\\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let event = "message", data = "";
        for (const line of block.split("\\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        const d = JSON.parse(data);
        if (event === "step") show(d);
        else if (event === "result") return done(kind + " done in " + ms(d.duration_ms) + (d.dir ? " (" + d.dir + ")" : ""), true);
        else if (event === "error") return done(kind + " failed (" + d.code + "): " + d.message, false);
      }
    }
    done(kind + ": the answer ended without a result", false);
  }
  document.querySelector("form[data-form=snapshot]").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const body = { to: f.get("to") };
    body[f.get("then") === "stop" ? "stop" : "resume"] = true;
    if (f.get("overwrite")) body.overwrite = true;
    run("snapshot", body);
  });
  document.querySelector("form[data-form=restore]").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const body = { from: f.get("from") };
    if (f.get("other_vm")) body.other_vm = true;
    run("restore", body);
  });
})();
`;

/** Names (relative to root) of directories holding a manifest, two levels deep at most, newest first, at most 100. */
export function listSnapshots(root: string): string[] {
  const found: { name: string; at: number }[] = [];
  const walk = (rel: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(join(root, rel)).filter((n) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(n)).slice(0, 500);
    } catch {
      return;
    }
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(join(root, r), { throwIfNoEntry: false });
      if (!st?.isDirectory()) continue;
      const m = lstatSync(join(root, r, MANIFEST_FILE), { throwIfNoEntry: false });
      if (m?.isFile()) found.push({ name: r, at: m.mtimeMs });
      else if (depth < 2) walk(r, depth + 1);
    }
  };
  walk("", 1);
  return found.sort((a, b) => b.at - a.at).slice(0, 100).map((f) => f.name);
}

/** The page's Content-Security-Policy: its own style (by hash) and its same-origin script, requests to itself only. */
export const SNAPSHOT_PAGE_CSP = `default-src 'none'; style-src ${sha256(CSS)}; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

export const SnapshotPage: FC<SnapshotPageProps> = ({ vm, vmm, snapshots, suggested, version, csrf }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="mvm-csrf" content={csrf} />
      <title>mvm bridge: snapshot {vm}</title>
      <style dangerouslySetInnerHTML={{ __html: CSS }} />
    </head>
    <body data-vm={vm}>
      <header>
        <h1>Snapshot {vm}</h1>
        <span class="hint meta">{vmm} · v{version}</span>
        <a href="/">back to all VMs</a>
      </header>
      <main>
        <section>
          <h2>Take a snapshot</h2>
          <form data-form="snapshot">
            <label>
              Directory under the bridge's snapshot root: <input type="text" name="to" value={suggested} required />
            </label>
            <div class="row">
              <label><input type="radio" name="then" value="resume" checked /> then resume (the VM keeps running)</label>
              <label><input type="radio" name="then" value="stop" /> then leave it paused</label>
              <label><input type="checkbox" name="overwrite" value="1" /> replace a snapshot there</label>
            </div>
            <button type="submit" data-action="snapshot">Take snapshot</button>
          </form>
          <p class="hint">sleep-prep, pause, write, resume and wake (or stay paused), then the manifest. A guest that is not ready is woken and nothing is written.</p>
        </section>
        <section>
          <h2>Restore</h2>
          <form data-form="restore">
            <label>
              Snapshot: <input type="text" name="from" list="snapshots" value={snapshots[0] ?? ""} required />
            </label>
            <datalist id="snapshots">{snapshots.map((s) => <option value={s} />)}</datalist>
            <label><input type="checkbox" name="other_vm" value="1" /> a snapshot of another VM (clone)</label>
            <button type="submit" data-action="restore">Restore</button>
          </form>
          <p class="hint">Start the VMM waiting for state first: QEMU with -incoming defer, or a fresh Firecracker process.</p>
        </section>
        <section>
          <h2>Steps</h2>
          <table data-table="steps">
            <thead>
              <tr><th>step</th><th>status</th><th>time</th><th>detail</th></tr>
            </thead>
            <tbody></tbody>
          </table>
          <div data-field="outcome"></div>
        </section>
      </main>
      <script src="/assets/snapshot.js"></script>
    </body>
  </html>
);

/** The page as an HTML document string. */
export function renderSnapshotPage(props: SnapshotPageProps): string {
  return "<!doctype html>" + (<SnapshotPage {...props} />).toString();
}
