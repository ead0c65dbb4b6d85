// One VM's card on the dashboard (hono/jsx: every text escaped), and any plugin's status section shown generically as bounded text.

import { createHash } from "node:crypto";
import type { FC } from "hono/jsx";
import { duration, parseTime, SEVERITY_TEXT, sinceText, type DiffSeen, type VmView } from "./dashboard-model.ts";

const STATUS_CLASS: Record<string, string> = { healthy: "ok", unchecked: "ok", starting: "warn", pending: "warn", paused: "mute", error: "bad" };
const SEVERITY_CLASS: Record<string, string> = { unreachable: "bad", "agent-error": "bad", error: "bad", "not-ready": "warn", warning: "warn", asleep: "mute", ok: "ok" };

/** Limits on what a guest's answers can put on a card (text only, whatever a plugin reports). */
export const CARD_LIMITS = { sectionRows: 40, sectionDepth: 3, text: 200, plugins: 30, list: 20 };

/** Text cut to `max` characters with an ellipsis. */
export function cut(text: string, max = CARD_LIMITS.text): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Any value of a plugin's status section as `key path -> text` rows, depth and count bounded: what
 * a custom plugin reports is shown, never more than CARD_LIMITS, and only as text.
 * @example sectionRows({ state: "running", last: { at: "x" } }) // { rows: [["state","running"],["last.at","x"]], more: 0 }
 */
export function sectionRows(value: unknown): { rows: [string, string][]; more: number } {
  const rows: [string, string][] = [];
  let more = 0;
  const put = (key: string, text: string) => (rows.length < CARD_LIMITS.sectionRows ? rows.push([cut(key, 80), cut(text)]) : more++);
  const walk = (key: string, v: unknown, depth: number) => {
    if (v === null || typeof v !== "object") return put(key || "(value)", v === undefined ? "" : typeof v === "string" ? v : String(JSON.stringify(v)));
    if (Array.isArray(v)) {
      if (v.length === 0 || depth >= CARD_LIMITS.sectionDepth) return put(key, `[${v.length} item${v.length === 1 ? "" : "s"}]`);
      v.slice(0, 5).forEach((x, i) => walk(`${key}[${i}]`, x, depth + 1));
      if (v.length > 5) put(key, `… ${v.length - 5} more item(s)`);
      return;
    }
    const entries = Object.entries(v);
    if (entries.length === 0) return put(key || "(value)", "{}");
    if (depth >= CARD_LIMITS.sectionDepth) return put(key, `{${entries.length} key${entries.length === 1 ? "" : "s"}}`);
    for (const [k, x] of entries) {
      if (rows.length >= CARD_LIMITS.sectionRows) {
        more++;
        continue;
      }
      walk(key ? `${key}.${k}` : k, x, depth + 1);
    }
  };
  walk("", value, 0);
  return { rows, more };
}

function probeText(v: unknown, unit: string | null): string {
  const text = typeof v === "string" ? v : String(JSON.stringify(v));
  return cut(unit ? `${text} ${unit}` : text, 120);
}

const Diff: FC<{ diff: DiffSeen | undefined; now: number }> = ({ diff, now }) => (
  <div class="row" data-field="diff">
    Changes since boot:{" "}
    {!diff ? (
      <span class="detail">not taken yet</span>
    ) : diff.summary ? (
      <span>
        <span data-field="diff-totals">
          {diff.summary.created} created, {diff.summary.modified} modified, {diff.summary.deleted} deleted ({diff.summary.bytes} bytes)
        </span>{" "}
        <span class="detail">{duration((now - diff.at) / 1000)} ago</span>
      </span>
    ) : (
      <span class="detail">{cut(diff.error ?? "")}</span>
    )}
  </div>
);

const Plugins: FC<{ sections: Record<string, unknown> }> = ({ sections }) => {
  const names = Object.keys(sections).sort();
  if (!names.length) return null;
  return (
    <div class="plugins" data-field="plugins">
      {names.slice(0, CARD_LIMITS.plugins).map((name) => {
        const { rows, more } = sectionRows(sections[name]);
        return (
          <details data-plugin={cut(name, 64)}>
            <summary>{cut(name, 64)}</summary>
            <table class="kv">
              {rows.map(([k, v]) => (
                <tr>
                  <th>{k}</th>
                  <td>{v}</td>
                </tr>
              ))}
            </table>
            {more > 0 && <div class="detail">… {more} more</div>}
          </details>
        );
      })}
      {names.length > CARD_LIMITS.plugins && <div class="detail">… {names.length - CARD_LIMITS.plugins} more plugin(s)</div>}
    </div>
  );
};

const Card: FC<{ v: VmView; now: number; snapshots: boolean }> = ({ v, now, snapshots }) => {
  const o = v.overview;
  const st = o.status;
  const labels = Object.entries(o.vm.labels ?? {});
  const skipped = [...(st?.config_skipped ?? [])];
  return (
    <>
      <h2>
        <span class="name">{v.name}</span>
        <span class={`badge ${SEVERITY_CLASS[v.severity]}`} data-field="severity">
          {SEVERITY_TEXT[v.severity]}
        </span>
      </h2>
      {v.severity !== "ok" && (
        <div class="row detail" data-field="since">
          since {sinceText(v.since, now)}
        </div>
      )}
      {labels.length > 0 && (
        <div class="labels" data-field="labels">
          {labels.map(([k, val]) => (
            <span class="chip">
              {k}={val}
            </span>
          ))}
        </div>
      )}
      {!st ? (
        <div class="detail" data-field="error">
          {o.error ? cut(`${o.error.code}: ${o.error.message}`, 400) : "no answer"}
        </div>
      ) : (
        <>
          <div class="row" data-field="identity">
            <span data-field="version">
              v{cut(st.version, 40)} ({st.build})
            </span>{" "}
            · up <span data-field="uptime">{duration(st.uptime_secs)}</span> · <span class="badge mute" data-field="state">{st.state}</span>
          </div>
          <div class="row">
            Worker:{" "}
            {o.worker ? (
              <span class={`badge ${o.worker.status === "busy" ? "warn" : "ok"}`} data-field="worker">
                {o.worker.status}
                {o.worker.load1 !== null ? ` (load ${o.worker.load1.toFixed(2)})` : ""}
              </span>
            ) : (
              <span class="badge mute" data-field="worker">n/a</span>
            )}{" "}
            Health:{" "}
            {o.health ? (
              <span class={`badge ${o.health.ready ? "ok" : "bad"}`} data-field="ready">
                {o.health.ready ? "ready" : "not ready"}
              </span>
            ) : (
              <span class="badge mute" data-field="ready">n/a</span>
            )}
          </div>
          {skipped.length > 0 && (
            <div class="row skipped" data-field="skipped">
              <span class="badge bad">{skipped.length} config file(s) skipped</span>
              <ul>
                {skipped.slice(0, CARD_LIMITS.list).map((s) => (
                  <li>
                    {cut(s.file, 120)}: {cut(s.message)}
                  </li>
                ))}
              </ul>
            </div>
          )}
          {o.health && o.health.integrations.length > 0 && (
            <table data-table="integrations">
              <tr>
                <th>integration</th>
                <th>status</th>
              </tr>
              {o.health.integrations.slice(0, 100).map((i) => {
                const at = parseTime(i.since);
                return (
                  <tr data-integration={i.name}>
                    <td>{cut(i.name, 64)}</td>
                    <td>
                      <span class={`badge ${STATUS_CLASS[i.status] ?? "mute"}`}>{cut(i.status, 20)}</span>
                      {i.status !== "healthy" && i.status !== "unchecked" && at !== null && <span class="detail"> since {sinceText(at, now)}</span>}
                      {i.detail && <div class="detail">{cut(i.detail, 300)}</div>}
                    </td>
                  </tr>
                );
              })}
            </table>
          )}
          {o.probes && o.probes.length > 0 && (
            <table data-table="probes">
              <tr>
                <th>probe</th>
                <th>value</th>
              </tr>
              {o.probes.slice(0, 100).map((p) => (
                <tr data-probe={p.name}>
                  <td>{cut(p.name, 64)}</td>
                  <td>
                    {p.checked_at === null ? <span class="detail">not run yet</span> : p.ok ? <span class="value">{probeText(p.value, p.unit)}</span> : <span class="badge bad">failed</span>}
                    {p.stale && <span class="badge warn"> stale</span>}
                    {!p.ok && p.detail && <div class="detail">{cut(p.detail, 300)}</div>}
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
          <Diff diff={v.diff} now={now} />
          <Plugins sections={st.plugins} />
        </>
      )}
      {snapshots && o.vm.vmm && (
        <a class="button" data-action="snapshot" href={`/vms/${encodeURIComponent(v.name)}/snapshot`}>
          Snapshot / restore…
        </a>
      )}
    </>
  );
};

/** A rendered card: its VM, its HTML, and a hash of it (the page replaces a card only when the hash changed). */
export interface RenderedCard {
  name: string;
  hash: string;
  html: string;
}

/** One VM's card as HTML (`<section data-vm data-severity data-hash>`). */
export function renderCard(v: VmView, now: number, snapshots: boolean): RenderedCard {
  const inner = (<Card v={v} now={now} snapshots={snapshots} />).toString();
  const hash = createHash("sha256").update(inner).digest("base64url").slice(0, 16);
  const html = (
    <section class={`vm sev-${v.severity}`} data-vm={v.name} data-severity={v.severity} data-hash={hash} dangerouslySetInnerHTML={{ __html: inner }} />
  ).toString();
  return { name: v.name, hash, html };
}
