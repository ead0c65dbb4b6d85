// The dashboard page: every VM with health, probes, worker state and last diff summary, and sleep-prep / wake buttons; server-rendered hono/jsx.

import { createHash } from "node:crypto";
import type { FC } from "hono/jsx";
import type { VmOverview } from "../client/overview.ts";

/** The last fs-diff summary the bridge saw for a VM. */
export interface DiffSeen {
  at: number;
  summary?: { created: number; modified: number; deleted: number; bytes: number };
  error?: string;
}

export interface DashboardProps {
  overviews: VmOverview[];
  diffs: ReadonlyMap<string, DiffSeen>;
  refreshSecs: number;
  now: number;
  version: string;
  /** The value the buttons send as X-MVM-CSRF (host/bridge/auth.ts); "" without auth. */
  csrf: string;
  /** The bridge takes snapshots (--snapshot-dir): VMs with a vmm get a Snapshot button. */
  snapshots?: boolean;
}

const CSS = `
*{box-sizing:border-box}body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 20px;display:flex;gap:16px;align-items:baseline}
header h1{font-size:18px;margin:0}header .meta{opacity:.7;font-size:12px}
main{padding:16px 20px;display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:14px}
.vm{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:12px 14px}
.vm h2{font-size:16px;margin:0 0 6px;display:flex;justify-content:space-between;gap:8px}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600}
.ok{background:#d9f5e1;color:#11622d}.bad{background:#fde0e0;color:#8a1111}.warn{background:#fff1cc;color:#7a5300}.mute{background:#eceef2;color:#4a5263}
table{border-collapse:collapse;width:100%;margin-top:6px}td,th{text-align:left;padding:2px 4px;border-top:1px solid #eef0f4;vertical-align:top}
th{font-weight:600;color:#4a5263;font-size:12px}.detail{color:#6b7385;font-size:12px}.row{margin:4px 0}
.empty{padding:30px;color:#6b7385}
button{font:inherit;font-size:12px;padding:1px 8px;margin-right:4px;cursor:pointer}
a.button{display:inline-block;margin-top:6px;padding:2px 10px;border:1px solid #b8c0cf;border-radius:6px;background:#f6f7f9;color:#1d2330;text-decoration:none;font-size:13px}
`;

/**
 * The buttons' script: a POST with a JSON body and the CSRF header, same origin only, then the
 * answer's code in the card. The page's CSP allows this script (by hash) and nothing else.
 */
const SCRIPT = `document.addEventListener("click", async (ev) => {
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
      headers: { "content-type": "application/json", "x-mvm-csrf": document.querySelector('meta[name="mvm-csrf"]').content },
      body: "{}",
    });
    const j = await r.json().catch(() => ({}));
    out.textContent = r.ok ? action + ": done" : action + ": failed (" + r.status + " " + (j.code || "") + ") " + (j.message || "");
  } catch (e) {
    out.textContent = action + ": " + e;
  } finally {
    b.disabled = false;
  }
});`;

/** A CSP source naming exactly this inline text. */
export const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

/** The dashboard's Content-Security-Policy: its own style and script (by hash), requests to itself only, no framing. */
export const DASHBOARD_CSP = `default-src 'none'; style-src ${sha256(CSS)}; script-src ${sha256(SCRIPT)}; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const STATUS_CLASS: Record<string, string> = { healthy: "ok", unchecked: "ok", starting: "warn", pending: "warn", paused: "mute", error: "bad" };

function ago(now: number, at: number): string {
  const s = Math.max(0, Math.round((now - at) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

function probeText(v: unknown, unit: string | null): string {
  const text = typeof v === "string" ? v : JSON.stringify(v);
  const short = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return unit ? `${short} ${unit}` : short;
}

const VmCard: FC<{ o: VmOverview; diff: DiffSeen | undefined; now: number; snapshots: boolean }> = ({ o, diff, now, snapshots }) => {
  const name = o.vm.name;
  return (
    <section class="vm" data-vm={name}>
      <h2>
        <span>{name}</span>
        {o.status ? (
          <span class="badge ok" data-field="reachable">reachable</span>
        ) : o.reachable ? (
          <span class="badge bad" data-field="reachable">error</span>
        ) : (
          <span class="badge bad" data-field="reachable">unreachable</span>
        )}
      </h2>
      {!o.status ? (
        <div class="detail" data-field="error">{o.error ? `${o.error.code}: ${o.error.message}` : "no answer"}</div>
      ) : (
        <>
          <div class="row">
            State: <span class="badge mute" data-field="state">{o.status?.state ?? "?"}</span>{" "}
            Worker:{" "}
            {o.worker ? (
              <span class={`badge ${o.worker.status === "busy" ? "warn" : "ok"}`} data-field="worker">
                {o.worker.status}
                {o.worker.load1 !== null ? ` (load ${o.worker.load1.toFixed(2)})` : ""}
              </span>
            ) : (
              <span class="badge mute" data-field="worker">n/a</span>
            )}
          </div>
          <div class="row">
            Health:{" "}
            {o.health ? (
              <span class={`badge ${o.health.ready ? "ok" : "bad"}`} data-field="ready">{o.health.ready ? "ready" : "not ready"}</span>
            ) : (
              <span class="badge mute" data-field="ready">n/a</span>
            )}
          </div>
          {o.health && o.health.integrations.length > 0 && (
            <table data-table="integrations">
              <tr><th>integration</th><th>status</th></tr>
              {o.health.integrations.map((i) => (
                <tr data-integration={i.name}>
                  <td>{i.name}</td>
                  <td>
                    <span class={`badge ${STATUS_CLASS[i.status] ?? "mute"}`}>{i.status}</span>
                    {i.detail && <div class="detail">{i.detail}</div>}
                  </td>
                </tr>
              ))}
            </table>
          )}
          {o.probes && o.probes.length > 0 && (
            <table data-table="probes">
              <tr><th>probe</th><th>value</th></tr>
              {o.probes.map((p) => (
                <tr data-probe={p.name}>
                  <td>{p.name}</td>
                  <td>
                    {p.checked_at === null ? <span class="detail">not run yet</span> : p.ok ? probeText(p.value, p.unit) : <span class="badge bad">failed</span>}
                    {p.stale && <span class="badge warn"> stale</span>}
                    {!p.ok && p.detail && <div class="detail">{p.detail}</div>}
                  </td>
                </tr>
              ))}
            </table>
          )}
          <div class="row" data-field="actions">
            <button type="button" data-action="sleep-prep">sleep-prep</button>
            <button type="button" data-action="wake">wake</button>
            <span class="detail" data-field="action-result"></span>
          </div>
          <div class="row" data-field="diff">
            Changes since boot:{" "}
            {!diff ? (
              <span class="detail">not taken yet</span>
            ) : diff.summary ? (
              <span>
                +{diff.summary.created} ~{diff.summary.modified} -{diff.summary.deleted} ({diff.summary.bytes} bytes){" "}
                <span class="detail">{ago(now, diff.at)}</span>
              </span>
            ) : (
              <span class="detail">{diff.error}</span>
            )}
          </div>
        </>
      )}
      {snapshots && o.vm.vmm && (
        <a class="button" data-action="snapshot" href={`/vms/${encodeURIComponent(name)}/snapshot`}>
          Snapshot / restore…
        </a>
      )}
    </section>
  );
};

/** The whole page; it refreshes itself every `refreshSecs`. */
export const Dashboard: FC<DashboardProps> = ({ overviews, diffs, refreshSecs, now, version, csrf, snapshots }) => {
  const up = overviews.filter((o) => o.reachable).length;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta http-equiv="refresh" content={String(refreshSecs)} />
        <meta name="mvm-csrf" content={csrf} />
        <title>mvm bridge: {String(up)}/{String(overviews.length)} VMs up</title>
        <style dangerouslySetInnerHTML={{ __html: CSS }} />
      </head>
      <body>
        <header>
          <h1>mvm bridge</h1>
          <span class="meta" data-field="summary">
            {up} of {overviews.length} VMs reachable · refreshed {new Date(now).toISOString().replace(/\.\d+Z$/, "Z")} · every {refreshSecs}s · v{version}
          </span>
        </header>
        <main>
          {overviews.length === 0 ? <div class="empty">No VMs in vms.json.</div> : overviews.map((o) => <VmCard o={o} diff={diffs.get(o.vm.name)} now={now} snapshots={snapshots === true} />)}
        </main>
        <script dangerouslySetInnerHTML={{ __html: SCRIPT }} />
      </body>
    </html>
  );
};

/** The page as an HTML document string. */
export function renderDashboard(props: DashboardProps): string {
  return "<!doctype html>" + (<Dashboard {...props} />).toString();
}
