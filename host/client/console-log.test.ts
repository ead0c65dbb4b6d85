// Console-log tailing on real files: last N lines in every shape, and following across truncation and rotation.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, waitFor } from "../../agent/testing.ts";
import { followFile, readLastLines } from "./console-log.ts";

let d: ReturnType<typeof tempDir>;
let file: string;
beforeEach(() => {
  d = tempDir("mvm-logs-");
  file = join(d.path, "console.log");
});
afterEach(() => d.cleanup());

describe("readLastLines", () => {
  test("fewer lines than asked, no trailing newline, empty file", () => {
    writeFileSync(file, "a\nb\nc");
    expect(readLastLines(file, 10).lines).toEqual(["a", "b", "c"]);
    expect(readLastLines(file, 2).lines).toEqual(["b", "c"]);
    expect(readLastLines(file, 0)).toEqual({ lines: [], end: 5 });
    writeFileSync(file, "");
    expect(readLastLines(file, 5).lines).toEqual([]);
  });

  test("a file larger than one read chunk; a cap on bytes read drops the partial first line", () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${"x".repeat(20)}`);
    writeFileSync(file, lines.join("\n") + "\n");
    expect(readLastLines(file, 3).lines).toEqual(lines.slice(-3));
    expect(readLastLines(file, 5000).lines).toEqual(lines.slice(-5000));
    const capped = readLastLines(file, 20_000, 1000).lines;
    expect(capped.length).toBeLessThan(40);
    expect(capped.every((l) => l.startsWith("line "))).toBe(true);
    expect(capped.at(-1)).toBe(lines.at(-1));
  });

  test("CRLF lines of a serial console come back without the CR", () => {
    writeFileSync(file, "boot\r\nhealth web: starting -> healthy\r\n");
    expect(readLastLines(file, 5).lines).toEqual(["boot", "health web: starting -> healthy"]);
  });

  test("a missing file throws ENOENT", () => {
    expect(() => readLastLines(join(d.path, "nope"), 3)).toThrow(/ENOENT/);
  });
});

describe("followFile", () => {
  async function follow(startAt?: number) {
    const got: string[] = [];
    const ac = new AbortController();
    const done = followFile(file, { startAt, pollMs: 10, signal: ac.signal, onLine: (l) => void got.push(l), onReset: (r) => void got.push(`<${r}>`) });
    return { got, stop: async () => (ac.abort(), await done) };
  }

  test("new lines only, partial lines held until their newline, CRLF trimmed", async () => {
    writeFileSync(file, "old\n");
    const f = await follow();
    appendFileSync(file, "one\ntw");
    await waitFor(() => f.got.length === 1, 5000, "one");
    appendFileSync(file, "o\r\nthree\n");
    await waitFor(() => f.got.length === 3, 5000, "two and three");
    await f.stop();
    expect(f.got).toEqual(["one", "two", "three"]);
  });

  test("startAt picks up what was written after readLastLines", async () => {
    writeFileSync(file, "a\nb\n");
    const { lines, end } = readLastLines(file, 1);
    appendFileSync(file, "written in between\n");
    const f = await follow(end);
    await waitFor(() => f.got.length === 1, 5000, "the line in between");
    await f.stop();
    expect(lines).toEqual(["b"]);
    expect(f.got).toEqual(["written in between"]);
  });

  test("truncation: reads the file again from its start", async () => {
    writeFileSync(file, "before 1\nbefore 2\n");
    const f = await follow();
    writeFileSync(file, "after\n"); // shorter than before: truncated
    await waitFor(() => f.got.includes("after"), 5000, "after");
    await f.stop();
    expect(f.got).toEqual(["<truncated>", "after"]);
  });

  test("rotation: finishes the old file, then follows the new one; a deleted and recreated file too", async () => {
    writeFileSync(file, "");
    const f = await follow();
    appendFileSync(file, "last of old\n");
    await waitFor(() => f.got.length === 1, 5000, "old line");
    renameSync(file, `${file}.1`);
    appendFileSync(`${file}.1`, "late write to old\n");
    await Bun.write(file, "first of new\n");
    await waitFor(() => f.got.includes("first of new"), 5000, "new file");
    unlinkSync(file); // deleted, then created again: followed as another replacement
    appendFileSync(file, "recreated\n");
    await waitFor(() => f.got.includes("recreated"), 5000, "recreated file");
    await f.stop();
    expect(f.got.slice(0, 4)).toEqual(["last of old", "late write to old", "<replaced>", "first of new"]);
  });

  test("resolves promptly when aborted", async () => {
    writeFileSync(file, "");
    const ac = new AbortController();
    const done = followFile(file, { pollMs: 60_000, signal: ac.signal, onLine: () => {} });
    ac.abort();
    await done;
  });
});
