// Tests of the frame codec and the incremental reader.

import { describe, expect, test } from "bun:test";
import { ChunkFrame, decodeBody, decodeFrame, encodeFrame, FrameReader, FrameTooLargeError, type ReaderItem } from "./frame.ts";

const frames = (items: ReaderItem[]) =>
  items.filter((i) => i.kind === "frame").map((i) => JSON.parse(Buffer.from((i as { body: Uint8Array }).body).toString()));

describe("encodeFrame", () => {
  test("writes a big-endian length then UTF-8 JSON", () => {
    const f = encodeFrame({ a: "é" });
    expect(f.readUInt32BE(0)).toBe(Buffer.byteLength('{"a":"é"}'));
    expect(f.subarray(4).toString()).toBe('{"a":"é"}');
  });
  test("refuses a body over the cap", () => {
    expect(() => encodeFrame({ s: "x".repeat(100) }, 50)).toThrow(FrameTooLargeError);
  });
});

describe("FrameReader", () => {
  test("reassembles a frame split into 1-byte chunks", () => {
    const r = new FrameReader();
    const bytes = encodeFrame({ type: "ping", id: 1 });
    const out: ReaderItem[] = [];
    for (const b of bytes) out.push(...r.push(Uint8Array.of(b)));
    expect(frames(out)).toEqual([{ type: "ping", id: 1 }]);
    expect(r.buffered).toBe(0);
  });

  test("returns every frame of a chunk holding 100 frames and a half", () => {
    const r = new FrameReader();
    const all = Buffer.concat([...Array.from({ length: 100 }, (_, i) => encodeFrame({ i })), encodeFrame({ i: 100 }).subarray(0, 5)]);
    const got = frames(r.push(all));
    expect(got.length).toBe(100);
    expect(got[99]).toEqual({ i: 99 });
    expect(r.buffered).toBe(5);
  });

  test("reports an oversize length from the prefix alone, without buffering the body", () => {
    const r = new FrameReader({ maxFrameBytes: 1024 });
    const items = r.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
    expect(items).toEqual([{ kind: "too-large", length: 0xffffffff }]);
    expect(r.push(Uint8Array.of(1, 2, 3))).toEqual([]); // dead after that
  });

  test("accepts a frame of exactly the cap", () => {
    const r = new FrameReader({ maxFrameBytes: 20 });
    const body = '"' + "x".repeat(18) + '"';
    const f = Buffer.alloc(4 + 20);
    f.writeUInt32BE(20);
    f.write(body, 4);
    expect(r.push(f).map((i) => i.kind)).toEqual(["frame"]);
  });

  test("reads a CONNECT line first, then frames in the same chunk", () => {
    const r = new FrameReader({ lines: "first" });
    const items = r.push(Buffer.concat([Buffer.from("CONNECT 52\n"), encodeFrame({ x: 1 })]));
    expect(items[0]).toEqual({ kind: "line", text: "CONNECT 52" });
    expect(frames(items)).toEqual([{ x: 1 }]);
  });

  test("a line-looking start without a newline within 80 bytes is a bad line", () => {
    const r = new FrameReader({ lines: "first" });
    expect(r.push(Buffer.from("C".repeat(40)))).toEqual([]);
    expect(r.push(Buffer.from("C".repeat(40)))[0]?.kind).toBe("bad-line");
  });

  test("lines are only recognised at the start in 'first' mode", () => {
    const r = new FrameReader({ lines: "first", maxFrameBytes: 1024 });
    r.push(encodeFrame({}));
    expect(r.push(Buffer.from("CONNECT 52\n"))[0]?.kind).toBe("too-large");
  });

  test("resync mode: SYNC at any boundary, junk discarded up to a newline, oversize never fatal", () => {
    const r = new FrameReader({ lines: "any", resync: true, maxFrameBytes: 1024 });
    const items = r.push(
      Buffer.concat([
        encodeFrame({ a: 1 }),
        Buffer.from("OK 52\n"), // junk a host wrote: cannot start a frame or a known line
        Buffer.from("SYNC abc\n"),
        Buffer.from([0x00, 0xff, 0xff, 0xff]), // over the cap
        Buffer.from("garbage\n"),
        encodeFrame({ b: 2 }),
      ]),
    );
    expect(items.map((i) => i.kind)).toEqual(["frame", "discarded", "line", "discarded", "frame"]);
    expect(frames(items)).toEqual([{ a: 1 }, { b: 2 }]);
  });

  test("resync mode keeps discarding across chunks until a newline", () => {
    const r = new FrameReader({ lines: "any", resync: true });
    expect(r.push(Buffer.from("xxxx"))).toEqual([]);
    expect(r.push(Buffer.from("yyyy"))).toEqual([]);
    const items = r.push(Buffer.concat([Buffer.from("z\n"), Buffer.from("SYNC t1\n")]));
    expect(items.map((i) => i.kind)).toEqual(["discarded", "line"]);
    expect(items[0]).toMatchObject({ bytes: 10 });
    expect(items[1]).toEqual({ kind: "line", text: "SYNC t1" });
  });
});

describe("FrameReader resync: a SYNC line cuts a stale half frame", () => {
  test("a whole SYNC line inside a pending body drops the half frame at once, in any chunking", () => {
    const stale = Buffer.from([0, 0, 0, 200, 0x7b, 0x22, 0x74]); // 3 of 200 body bytes
    const sync = Buffer.from("SYNC tok_1-A\n");
    const after = encodeFrame({ type: "ping" });
    const all = Buffer.concat([stale, sync, after]);
    for (const size of [1, 3, 7, 64, all.length]) {
      const r = new FrameReader({ lines: "any", resync: true });
      const items = [];
      for (let i = 0; i < all.length; i += size) items.push(...r.push(all.subarray(i, i + size)));
      expect(items.map((x) => x.kind)).toEqual(["discarded", "line", "frame"]);
      expect(items[0]).toMatchObject({ bytes: stale.length, reason: "a partial frame cut short by a SYNC line" });
      expect(items[1]).toEqual({ kind: "line", text: "SYNC tok_1-A" });
      expect(frames(items)).toEqual([{ type: "ping" }]);
    }
  });

  test("valid bodies that mention SYNC are frames, never cuts (JSON has no raw newline in a string)", () => {
    const r = new FrameReader({ lines: "any", resync: true });
    const bodies = [{ command: "echo SYNC abc" }, { s: "SYNC x\n" }, { "SYNC a": 1 }];
    const items = r.push(Buffer.concat(bodies.map((b) => encodeFrame(b))));
    expect(items.map((x) => x.kind)).toEqual(["frame", "frame", "frame"]);
    expect(frames(items)).toEqual(bodies);
  });

  test("an unfinished SYNC line is not a cut; only stream mode is affected", () => {
    const r = new FrameReader({ lines: "any", resync: true });
    expect(r.push(Buffer.concat([Buffer.from([0, 0, 0, 100, 0x7b]), Buffer.from("SYNC abc")]))).toEqual([]);
    expect(r.push(Buffer.from("\n")).map((x) => x.kind)).toEqual(["discarded", "line"]);
    const unix = new FrameReader({ lines: "first" });
    expect(unix.push(Buffer.concat([Buffer.from([0, 0, 0, 100, 0x7b]), Buffer.from("SYNC abc\n")]))).toEqual([]);
    expect(unix.buffered).toBe(14);
  });
});

describe("decodeBody", () => {
  test("rejects invalid UTF-8 and invalid JSON with a message", () => {
    expect(decodeBody(Uint8Array.of(0xc3, 0x28))).toEqual({ ok: false, message: "frame body is not valid UTF-8" });
    const r = decodeBody(Buffer.from("{nope"));
    expect(r.ok).toBe(false);
  });
  test("decodes any JSON value (shape is the router's business)", () => {
    expect(decodeBody(Buffer.from('"Ping"'))).toEqual({ ok: true, value: "Ping", text: '"Ping"' });
  });
});

describe("decodeFrame", () => {
  const frame = (body: Uint8Array) => Buffer.concat([Buffer.from([0, 0, 0, body.length]), body]);
  test("a frame read from a chunk decodes as decodeBody of its body: valid, bad UTF-8, a real U+FFFD, a BOM, bad JSON", () => {
    const bodies = [
      Buffer.from('{"type":"ping","id":1}'),
      Buffer.from('{"type":"p\u00e9ng \u2713","id":2}'),
      Uint8Array.of(0x7b, 0xc3, 0x28, 0x7d),
      Buffer.from('"\ufffd"'),
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"id":3}')]),
      Buffer.from("{nope"),
    ];
    const items = new FrameReader({ lines: "none" }).push(Buffer.concat(bodies.map(frame)));
    expect(items.length).toBe(bodies.length);
    for (let i = 0; i < bodies.length; i++) {
      const item = items[i]!;
      expect(item).toBeInstanceOf(ChunkFrame); // the fast path: no view made
      if (item.kind !== "frame") throw new Error("not a frame");
      expect(Buffer.from(item.body)).toEqual(Buffer.from(bodies[i]!));
      expect(decodeFrame(item)).toEqual(decodeBody(bodies[i]!));
    }
    expect(decodeFrame(items[2] as ChunkFrame)).toEqual({ ok: false, message: "frame body is not valid UTF-8" });
    expect(decodeFrame(items[3] as ChunkFrame)).toEqual({ ok: true, value: "\ufffd", text: '"\ufffd"' });
    expect(decodeFrame(items[4] as ChunkFrame)).toEqual({ ok: true, value: { id: 3 }, text: '{"id":3}' });
  });
  test("a frame put together from several chunks decodes too", () => {
    const r = new FrameReader({ lines: "none" });
    const f = frame(Buffer.from('{"id":4}'));
    expect(r.push(f.subarray(0, 3))).toEqual([]);
    const [item] = r.push(f.subarray(3));
    expect(item).not.toBeInstanceOf(ChunkFrame);
    expect(decodeFrame(item as { body: Uint8Array })).toEqual({ ok: true, value: { id: 4 }, text: '{"id":4}' });
  });
});
