// Parsing /proc/loadavg text, and reading the real file and fixtures.

import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../agent/testing.ts";
import { parseLoadavg, readLoadavg } from "./loadavg.ts";

describe("loadavg", () => {
  test("the first three fields are the load averages", () => {
    expect(parseLoadavg("0.52 0.40 0.30 1/123 4567\n")).toEqual({ ok: true, loads: { load1: 0.52, load5: 0.4, load15: 0.3 } });
    expect(parseLoadavg("12 3 0")).toEqual({ ok: true, loads: { load1: 12, load5: 3, load15: 0 } });
  });

  test.each(["", "0.52", "0.52 x 0.30 1/1 1", "-1 0 0 1/1 1", "NaN 0 0"])("%p is rejected with the text shown", (text) => {
    const r = parseLoadavg(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(JSON.stringify(text.trim()));
  });

  test("reads the real /proc/loadavg, a fixture, and says why a missing file fails", () => {
    const real = readLoadavg("/proc/loadavg");
    expect(real.ok).toBe(true);
    const d = tempDir();
    try {
      const p = join(d.path, "loadavg");
      writeFileSync(p, "1.50 1.00 0.50 2/300 999\n");
      expect(readLoadavg(p)).toEqual({ ok: true, loads: { load1: 1.5, load5: 1, load15: 0.5 } });
      const missing = readLoadavg(join(d.path, "nope"));
      expect(missing.ok).toBe(false);
      if (!missing.ok) expect(missing.error).toContain("ENOENT");
    } finally {
      d.cleanup();
    }
  });
});
