// Checks the shared runner's claim that capped output never splits a UTF-8 character (exec relies on it).

import { describe, expect, test } from "bun:test";
import { runCommand } from "../../agent/command.ts";

// 1-, 2-, 3- and 4-byte characters, so every cap lands at every offset inside some character.
const TEXT = "a\u00e9\u20ac\u{1f600}".repeat(50);
const BYTES = new TextEncoder().encode(TEXT);

function isCleanPrefix(kept: Uint8Array, max: number): boolean {
  const text = new TextDecoder("utf-8", { fatal: true }).decode(kept); // throws on a split character
  return TEXT.startsWith(text) && kept.length <= max && kept.length > max - 4;
}

describe("runCommand head-keeping cap and UTF-8", () => {
  test("every cap from 1 to 40 bytes keeps whole characters only", async () => {
    for (let max = 1; max <= 40; max++) {
      const r = await runCommand({ argv: ["cat"], stdin: BYTES, maxOutputBytes: max });
      expect(r.stdout_truncated).toBe(true);
      expect(r.stdout_bytes).toBe(BYTES.length);
      expect(isCleanPrefix(r.stdout, max)).toBe(true);
    }
  });

  test("a cap that falls across two pipe chunks still cuts cleanly", async () => {
    // Many small writes make many chunks; the cap lands inside a 4-byte character.
    const cmd = `for i in $(seq 1 40); do printf 'a\\303\\251\\342\\202\\254\\360\\237\\230\\200'; done`;
    for (const max of [5, 6, 7, 8, 9, 10, 11]) {
      const r = await runCommand({ command: cmd, maxOutputBytes: max });
      expect(r.stdout_bytes).toBe(400);
      expect(isCleanPrefix(r.stdout, max)).toBe(true);
    }
  });

  test("output exactly at the cap is kept whole and not flagged", async () => {
    const r = await runCommand({ argv: ["cat"], stdin: BYTES, maxOutputBytes: BYTES.length });
    expect(r.stdout_truncated).toBe(false);
    expect(new TextDecoder().decode(r.stdout)).toBe(TEXT);
  });

  test("tail-keeping cuts cleanly at the front", async () => {
    for (let max = 1; max <= 12; max++) {
      const r = await runCommand({ argv: ["cat"], stdin: BYTES, maxOutputBytes: max, keep: "tail" });
      const text = new TextDecoder("utf-8", { fatal: true }).decode(r.stdout);
      expect(TEXT.endsWith(text)).toBe(true);
      expect(r.stdout.length).toBeGreaterThan(max - 4);
    }
  });

  test("binary output keeps exactly the cap when UTF-8 cutting is off", async () => {
    const bin = Uint8Array.from([0x00, 0xf0, 0x9f, 0x98, 0xff, 0xe2, 0x82]);
    for (let max = 1; max < bin.length; max++) {
      const r = await runCommand({ argv: ["cat"], stdin: bin, maxOutputBytes: max, cutUtf8: false });
      expect([...r.stdout]).toEqual([...bin.subarray(0, max)]);
      expect(r.stdout_truncated).toBe(true);
    }
  });
});
