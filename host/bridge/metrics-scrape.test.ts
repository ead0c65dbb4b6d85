// The scrape's deadline: Prometheus' timeout header minus a margin, never over the call deadline; a collection that ignores it still ends.

import { describe, expect, test } from "bun:test";
import { collectScrape, scrapeBudgetMs } from "./metrics-scrape.ts";

describe("scrapeBudgetMs", () => {
  test("the header minus 10 % (250 ms .. 1 s), capped by the call deadline; a bad or absent header is the call deadline", () => {
    expect(scrapeBudgetMs("5", 5000)).toBe(4500);
    expect(scrapeBudgetMs("10", 5000)).toBe(5000);
    expect(scrapeBudgetMs("30", 60_000)).toBe(29_000);
    expect(scrapeBudgetMs("1", 5000)).toBe(750);
    expect(scrapeBudgetMs("0.2", 5000)).toBe(50);
    expect(scrapeBudgetMs(" 2.5 ", 5000)).toBe(2250);
    for (const bad of [undefined, "", "abc", "-1", "0", "Infinity", "1e999", "5s"]) expect(scrapeBudgetMs(bad, 5000)).toBe(5000);
  });
});

describe("collectScrape", () => {
  test("a VM whose calls never settle (a client that ignores its deadline) is E_CLIENT_TIMEOUT and unreachable; the others are there", async () => {
    const never = () => new Promise<unknown>(() => {});
    const answered = async (_vm: unknown, type: string) => (type === "status" ? { bogus: true } : {});
    const r = await collectScrape(
      [{ name: "stuck", agent: "unix:/a" }, { name: "fine", agent: "unix:/b" }],
      (vm, type) => (vm.name === "stuck" ? never() : answered(vm, type)),
      50,
      { health: true },
    );
    expect(r.overviews.map((o) => [o.vm.name, o.reachable, o.error?.code])).toEqual([
      ["stuck", false, "E_CLIENT_TIMEOUT"],
      ["fine", true, "E_PROTOCOL"],
    ]);
    expect([...r.collectMs.keys()].sort()).toEqual(["fine", "stuck"]);
  });
});
