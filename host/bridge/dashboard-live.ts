// The dashboard's data and its live updates: one poller for every open page (not one per tab), the diff totals, and the event stream.

import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { collectOverview, type VmCall, type VmOverview } from "../client/overview.ts";
import type { VmEntry } from "../client/vm-list.ts";
import { renderCard, type RenderedCard } from "./dashboard-cards.tsx";
import { SEVERITY_TEXT, sinceTracker, vmViews, type DiffSeen, type Severity } from "./dashboard-model.ts";
import { callFailure } from "./input.ts";

/** How old a VM's diff totals may be before the dashboard asks for new ones. */
export const DIFF_MAX_AGE_MS = 60_000;

export interface DashboardSource {
  vms(): readonly VmEntry[];
  call: VmCall;
  /** Deadline of each agent call (the diff totals' too: a page never waits longer). */
  callMs: number;
  now(): number;
  /** How often open pages get updates. */
  refreshSecs: number;
  /** Snapshot links on cards of VMs with a vmm (--snapshot-dir). */
  snapshots: boolean;
  /** The diff totals seen, by VM (shared with the diff route, which records complete walks). */
  diffs: Map<string, DiffSeen>;
  version: string;
}

/** What a page shows at one moment. */
export interface DashboardState {
  cards: RenderedCard[];
  title: string;
  summary: string;
}

/**
 * The dashboard's data: `state()` asks every agent (status, health, probes, worker; each under the
 * call deadline) and refreshes diff totals older than a minute (`fs-diff {summary_only: true}`: the
 * whole walk's, not one page's). `subscribe` feeds open pages: one poll every `refreshSecs` while
 * any page is open, however many there are, and none when none is; `close` ends it all.
 * @example const hub = dashboardHub(source); const off = hub.subscribe((s) => send(s)); ...; off();
 */
export function dashboardHub(src: DashboardSource) {
  const tracker = sinceTracker();
  const diffing = new Map<string, Promise<void>>();
  const subscribers = new Set<(s: DashboardState) => void | Promise<void>>();
  const closers = new Map<(s: DashboardState) => void | Promise<void>, () => void>();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let ticking = false;
  let closed = false;

  /** New diff totals for a VM whose last are over a minute old (one call at a time per VM). */
  function refreshDiff(o: VmOverview): Promise<void> {
    const name = o.vm.name;
    const seen = src.diffs.get(name);
    if (!o.status || (seen && src.now() - seen.at <= DIFF_MAX_AGE_MS)) return Promise.resolve();
    const had = diffing.get(name);
    if (had) return had;
    const p = (async () => {
      try {
        const r = (await src.call(o.vm, "fs-diff", { summary_only: true }, { timeoutMs: src.callMs })) as { summary?: DiffSeen["summary"] };
        if (r?.summary && typeof r.summary.created === "number") src.diffs.set(name, { at: src.now(), summary: r.summary });
      } catch (e) {
        const f = callFailure(e, name);
        const error =
          f.code === "E_UNKNOWN_REQUEST"
            ? "not served by this agent"
            : f.code === "E_INVALID_PARAMS"
              ? "this agent cannot count the whole diff (no summary_only): upgrade it"
              : `${f.code}: ${(e as Error)?.message ?? f.message}`;
        src.diffs.set(name, { at: src.now(), error });
      } finally {
        diffing.delete(name);
      }
    })();
    diffing.set(name, p);
    return p;
  }

  async function state(): Promise<DashboardState> {
    const overviews = await Promise.all(
      src.vms().map(async (vm) => {
        const o = await collectOverview(vm, src.call, src.callMs, { health: true, probes: true, worker: true });
        await refreshDiff(o);
        return o;
      }),
    );
    const now = src.now();
    const views = vmViews(overviews, src.diffs, tracker, now);
    const cards = views.map((v) => renderCard(v, now, src.snapshots));
    const up = overviews.filter((o) => o.reachable).length;
    const bad = new Map<Severity, number>();
    for (const v of views) if (v.severity !== "ok") bad.set(v.severity, (bad.get(v.severity) ?? 0) + 1);
    const worst = [...bad].map(([s, n]) => `${n} ${SEVERITY_TEXT[s]}`).join(", ");
    const at = new Date(now).toISOString().replace(/\.\d+Z$/, "Z");
    return {
      cards,
      title: `mvm bridge: ${up}/${overviews.length} VMs up`,
      summary: `${up} of ${overviews.length} VMs reachable${worst ? ` · ${worst}` : ""} · updated ${at} · every ${src.refreshSecs}s · v${src.version}`,
    };
  }

  async function tick(): Promise<void> {
    timer = null;
    if (closed || subscribers.size === 0) return;
    ticking = true;
    try {
      const s = await state();
      await Promise.all([...subscribers].map(async (send) => send(s)));
    } catch {
      // a page that went away mid-send; the next tick goes on
    } finally {
      ticking = false;
      if (!closed && subscribers.size > 0) timer = setTimeout(() => void tick(), src.refreshSecs * 1000);
    }
  }

  return {
    state,
    /** Feed `send` now and every `refreshSecs` until the returned function is called; `onClose` when the hub closes. */
    subscribe(send: (s: DashboardState) => void | Promise<void>, onClose?: () => void): () => void {
      subscribers.add(send);
      if (onClose) closers.set(send, onClose);
      if (!timer && !ticking && !closed) timer = setTimeout(() => void tick(), 0);
      return () => {
        subscribers.delete(send);
        closers.delete(send);
        if (subscribers.size === 0 && timer) {
          clearTimeout(timer);
          timer = null;
        }
      };
    },
    /** Open pages (tests and the bridge's stop read it). */
    subscribers: () => subscribers.size,
    /** A poll is scheduled or running (false once no page is open). */
    polling: () => timer !== null || ticking,
    /** Stop polling and drop every page (the bridge's stop). */
    close(): void {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      subscribers.clear();
      for (const f of closers.values()) f();
      closers.clear();
    },
  };
}

export type DashboardHub = ReturnType<typeof dashboardHub>;

/**
 * `GET /api/dashboard/events`: `update` events with the title, the summary, the order of the cards
 * and the cards that changed since this stream last sent them (all of them first), as HTML the bridge
 * rendered. The stream ends when the page goes away.
 */
export function dashboardEvents(c: Context, hub: DashboardHub): Response {
  return streamSSE(c, async (s) => {
    const sent = new Map<string, string>();
    let end!: () => void;
    const ended = new Promise<void>((r) => (end = r));
    let off = () => {};
    const stop = () => {
      off();
      end();
    };
    off = hub.subscribe(async (state) => {
      if (s.aborted || s.closed || c.req.raw.signal.aborted) return stop();
      const cards = state.cards.filter((card) => sent.get(card.name) !== card.hash);
      const order = state.cards.map((card) => card.name);
      try {
        await s.writeSSE({ event: "update", data: JSON.stringify({ title: state.title, summary: state.summary, order, cards }) });
      } catch {
        return stop(); // the page went away
      }
      for (const card of cards) sent.set(card.name, card.hash);
      for (const name of sent.keys()) if (!order.includes(name)) sent.delete(name);
    }, end);
    s.onAbort(stop);
    c.req.raw.signal.addEventListener("abort", stop, { once: true });
    await ended;
  });
}
