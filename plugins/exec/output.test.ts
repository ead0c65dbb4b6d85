// Unit tests of exec's wire output: stream pieces within a budget, and answers fitted to the frame cap.

import { describe, expect, test } from "bun:test";
import { cutToBudget, fitOutput, jsonCost, StreamPieces } from "./output.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const strict = new TextDecoder("utf-8", { fatal: true });

describe("StreamPieces", () => {
  test("a character split across chunks comes out whole, in the later piece", () => {
    const s = new StreamPieces("utf8", 1 << 20, 1000);
    const euro = enc("a€b");
    expect(s.push(euro.subarray(0, 2))).toEqual(["a"]);
    expect(s.push(euro.subarray(2, 3))).toEqual([]);
    expect(s.push(euro.subarray(3))).toEqual(["€b"]);
    expect(s.end()).toEqual([]);
    expect(s.truncated).toBe(false);
  });

  test("pieces stay within the budget, even for text that JSON escapes six-fold", () => {
    const budget = 60;
    const text = "\u0001".repeat(100) + "😀".repeat(100) + "plain".repeat(40);
    const s = new StreamPieces("utf8", 1 << 20, budget);
    const pieces = [...s.push(enc(text)), ...s.end()];
    expect(pieces.join("")).toBe(text);
    for (const p of pieces) {
      expect(jsonCost(p)).toBeLessThanOrEqual(budget);
      expect(() => strict.decode(enc(p))).not.toThrow(); // no lone surrogate halves
      expect(p).not.toMatch(/[\ud800-\udbff]$/);
    }
  });

  test("the cap stops streaming at a character boundary and flags truncation", () => {
    const s = new StreamPieces("utf8", 7, 1000);
    const out = [...s.push(enc("ab€€€")), ...s.push(enc("more")), ...s.end()];
    expect(out.join("")).toBe("ab€"); // 7 bytes would end inside the second €
    expect(s.truncated).toBe(true);
  });

  test("a dangling partial character at the very end becomes U+FFFD", () => {
    const s = new StreamPieces("utf8", 100, 1000);
    expect([...s.push(Uint8Array.from([0x61, 0xe2, 0x82])), ...s.end()].join("")).toBe("a\ufffd");
  });

  test("base64 pieces are independent and exact, each within the budget", () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37) % 256);
    const s = new StreamPieces("base64", 999, 100);
    const pieces = s.push(bytes);
    expect(s.truncated).toBe(true);
    for (const p of pieces) expect(p.length).toBeLessThanOrEqual(100);
    const back = Buffer.concat(pieces.map((p) => Buffer.from(p, "base64")));
    expect([...back]).toEqual([...bytes.subarray(0, 999)]);
  });
});

describe("fitOutput", () => {
  test("output that fits is untouched", () => {
    const f = fitOutput(enc("out"), enc("err"), "utf8", 100);
    expect(f).toEqual({ stdout: "out", stderr: "err", stdoutCut: false, stderrCut: false });
  });

  test("a small stream keeps all of it; the big one gets the rest of the budget", () => {
    const f = fitOutput(enc("€".repeat(1000)), enc("tiny"), "utf8", 301);
    expect(f.stderr).toBe("tiny");
    expect(f.stderrCut).toBe(false);
    expect(f.stdoutCut).toBe(true);
    expect(f.stdout).toBe("€".repeat(99)); // 297 bytes; a 100th € would need 300 > 297
    expect(jsonCost(f.stdout) + jsonCost(f.stderr)).toBeLessThanOrEqual(301);
  });

  test("two big streams share the budget; escaped text is measured as JSON", () => {
    const f = fitOutput(enc("\n".repeat(500)), enc("x".repeat(500)), "utf8", 200);
    expect(jsonCost(f.stdout)).toBeLessThanOrEqual(100);
    expect(f.stdout.length).toBe(50);
    expect(f.stderr.length).toBe(100);
  });

  test("base64 cuts whole 3-byte groups", () => {
    const f = fitOutput(Uint8Array.from({ length: 300 }, (_, i) => i % 256), new Uint8Array(0), "base64", 41);
    expect(Buffer.from(f.stdout, "base64").length).toBe(30);
    expect(f.stdoutCut).toBe(true);
  });

  test("cutToBudget never returns half a character", () => {
    const bytes = enc("😀é€a".repeat(20));
    for (let b = 0; b < 60; b++) {
      const cut = cutToBudget(bytes, "utf8", b);
      expect(() => strict.decode(cut)).not.toThrow();
      expect(cut.length).toBeLessThanOrEqual(b);
      expect(cut.length).toBeGreaterThan(b - 4);
    }
  });
});
