// Reading the load averages from /proc/loadavg (or a fixture file at an injected path).

import { readFileSync } from "node:fs";

export interface Loads {
  load1: number;
  load5: number;
  load15: number;
}

export type LoadRead = { ok: true; loads: Loads } | { ok: false; error: string };

/**
 * Parse the text of /proc/loadavg: `0.52 0.40 0.30 1/123 4567` (only the first three fields matter).
 * @example parseLoadavg("0.52 0.40 0.30 1/123 4567") // { ok: true, loads: { load1: 0.52, load5: 0.4, load15: 0.3 } }
 */
export function parseLoadavg(text: string): LoadRead {
  const fields = text.trim().split(/\s+/).slice(0, 3);
  const nums = fields.map((f) => (/^\d+(\.\d+)?$/.test(f) ? Number(f) : NaN));
  if (nums.length < 3 || nums.some((n) => !Number.isFinite(n))) {
    const shown = text.trim().slice(0, 60);
    return { ok: false, error: `expected three load averages such as "0.52 0.40 0.30 1/123 4567", got ${JSON.stringify(shown)}` };
  }
  return { ok: true, loads: { load1: nums[0]!, load5: nums[1]!, load15: nums[2]! } };
}

/** Read and parse a loadavg file; never throws. */
export function readLoadavg(path: string): LoadRead {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  return parseLoadavg(text);
}
