// One scrape's collection: every VM asked at once under a deadline that fits Prometheus' scrape timeout, so one hung agent cannot fail the scrape.

import { collectOverview, type CollectParts, type VmCall, type VmOverview } from "../client/overview.ts";
import type { VmEntry } from "../client/vm-list.ts";

/** The header Prometheus sends with every scrape: its `scrape_timeout` in seconds. */
export const SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds";

/**
 * How long each agent call of one scrape may take: the scrape timeout Prometheus sent, minus a
 * margin for the bridge's own work and the network (10 %, at least 250 ms, at most 1 s), and never
 * more than the ordinary call deadline. Without the header (or with a bad one): the call deadline.
 * @example scrapeBudgetMs("5", 5000) // 4500; scrapeBudgetMs("10", 5000) // 5000; scrapeBudgetMs(undefined, 5000) // 5000
 */
export function scrapeBudgetMs(header: string | undefined, callMs: number): number {
  const secs = header === undefined ? NaN : Number(header.trim());
  if (!Number.isFinite(secs) || secs <= 0) return callMs;
  const ms = secs * 1000;
  const margin = Math.min(1000, Math.max(250, ms * 0.1));
  return Math.max(50, Math.min(callMs, Math.floor(ms - margin)));
}

export interface ScrapeResult {
  overviews: VmOverview[];
  /** How long each VM took, by name (ms). */
  collectMs: Map<string, number>;
}

/**
 * Ask every VM at once, each call under `budgetMs`; a VM whose collection is not done by then (its
 * client did not honour the deadline) is reported unreachable with `E_CLIENT_TIMEOUT`, so the
 * scrape answers within the budget whatever an agent does. Never throws.
 * @example const { overviews } = await collectScrape(vms, pool.call, scrapeBudgetMs(c.req.header(SCRAPE_TIMEOUT_HEADER), 5000), { health: true })
 */
export async function collectScrape(vms: readonly VmEntry[], call: VmCall, budgetMs: number, parts: CollectParts): Promise<ScrapeResult> {
  const collectMs = new Map<string, number>();
  const overviews = await Promise.all(
    vms.map(async (vm): Promise<VmOverview> => {
      const t0 = performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<VmOverview>((resolve) => {
        timer = setTimeout(
          () =>
            resolve({
              vm,
              reachable: false,
              error: { code: "E_CLIENT_TIMEOUT", message: `${vm.name}: no answer within the scrape's deadline of ${budgetMs} ms` },
              status: null,
              health: null,
              probes: null,
              worker: null,
            }),
          budgetMs + 100,
        );
      });
      try {
        return await Promise.race([collectOverview(vm, call, budgetMs, parts), late]);
      } finally {
        clearTimeout(timer);
        collectMs.set(vm.name, performance.now() - t0);
      }
    }),
  );
  return { overviews, collectMs };
}
