// The serial transport over a real pseudo-terminal (raw mode): SYNC, CONNECT, stale bytes, stalled frames, port lookup.

import { afterEach, describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { createAgent, type Agent } from "./agent.ts";
import { ManualClock } from "./clock.ts";
import { decodeBody, encodeFrame, FrameReader } from "./frame.ts";
import { memoryLogger } from "./log.ts";
import { readFdInThread } from "./fd-reader.ts";
import { findSerialPort } from "./serial.ts";
import { listen } from "./server.ts";
import { tempDir, waitFor } from "./testing.ts";
import { openPty } from "./testing-pty.ts";

/** Reads the master end: raw bytes (for lines) and frames after them. */
class HostEnd {
  private bytes = Buffer.alloc(0);
  private readonly reader: { stop(): Promise<void> };
  constructor(readonly fd: number) {
    this.reader = readFdInThread(fd, {
      data: (b) => void (this.bytes = Buffer.concat([this.bytes, b])),
      eof() {},
      error() {},
    });
  }
  send(data: string | Uint8Array): void {
    writeSync(this.fd, typeof data === "string" ? Buffer.from(data) : data);
  }
  /** Wait until `line` arrives; drop everything up to and including it (what a host client does). */
  async expectLine(line: string): Promise<void> {
    const needle = Buffer.from(line + "\n");
    await waitFor(() => this.bytes.indexOf(needle) >= 0, 5000, `the line ${JSON.stringify(line)}`);
    const i = this.bytes.indexOf(needle);
    this.bytes = this.bytes.subarray(i + needle.length);
  }
  /** The next frame (the stream must be at a frame boundary). */
  async frame(): Promise<any> {
    let out: unknown;
    await waitFor(() => {
      const r = new FrameReader();
      const items = r.push(this.bytes);
      const f = items.find((x) => x.kind === "frame");
      if (!f || f.kind !== "frame") return false;
      this.bytes = this.bytes.subarray(4 + f.body.length);
      const d = decodeBody(f.body);
      out = d.ok ? d.value : d.message;
      return true;
    }, 5000, "a frame");
    return out;
  }
  /** Resolves once the reader thread has closed the master. */
  stop(): Promise<void> {
    return this.reader.stop();
  }
}

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function serialAgent(clock?: ManualClock): Promise<{ agent: Agent; host: HostEnd; log: ReturnType<typeof memoryLogger> }> {
  const pty = openPty();
  const log = memoryLogger();
  const agent = createAgent({ plugins: [], log, clock, frameTimeoutSecs: 10 });
  await agent.start();
  await listen(agent, { kind: "serial", path: pty.slavePath });
  const host = new HostEnd(pty.master);
  cleanups.push(async () => {
    let done = false;
    const stopped = agent.stop({ drainMs: 100 }).then(() => void (done = true));
    // A reader thread parked in read() sees the stop only when bytes come: nudge it until it is done.
    await waitFor(() => done || (host.send("\n"), false), 5000, "the agent's serial reader to stop");
    await stopped;
    closeSync(pty.keep);
    await host.stop(); // the master reads EIO once every slave fd is closed
  });
  return { agent, host, log };
}

describe("serial transport over a pty", () => {
  test("SYNC is echoed, then frames are answered; CONNECT works as on unix sockets", async () => {
    const { host } = await serialAgent();
    host.send("SYNC abc_1-Z\n");
    await host.expectLine("SYNC abc_1-Z");
    host.send(encodeFrame({ type: "ping", id: 1 }));
    expect(await host.frame()).toEqual({ id: 1, type: "ping", ok: true, result: {} });
    host.send("CONNECT 52\n");
    await host.expectLine("OK 52");
    host.send(encodeFrame({ type: "ping", id: 2 }));
    expect((await host.frame()).id).toBe(2);
  });

  test("stale bytes from an earlier session (OK lines, junk) are discarded to the newline, never closing the port", async () => {
    const { host, log } = await serialAgent();
    host.send("OK 52\nOK 52\n\x7fgarbage that is no frame\nSYNC s2\n");
    await host.expectLine("SYNC s2");
    host.send(encodeFrame({ type: "ping", id: "after" }));
    expect(await host.frame()).toMatchObject({ id: "after", ok: true });
    expect(log.lines.some((l) => l.includes("discarded"))).toBe(true);
  });

  test("a refused line (wrong CONNECT port, unknown word) is logged and the stream goes on", async () => {
    const { host, log } = await serialAgent();
    host.send("CONNECT 9999\nSYNC bad token!\nSYNC ok\n");
    await host.expectLine("SYNC ok");
    expect(log.lines.filter((l) => l.includes("refused handshake line")).length).toBe(2);
    host.send(encodeFrame({ type: "ping", id: 3 }));
    expect((await host.frame()).ok).toBe(true);
  });

  test("a half frame left by a dead host is dropped after the frame timeout; the next SYNC gets through", async () => {
    const clock = new ManualClock();
    const { host, log } = await serialAgent(clock);
    host.send(Buffer.from([0, 0, 0, 200, 0x7b, 0x22])); // 6 of 204 bytes
    await waitFor(() => log.lines.some((l) => l.includes("a host is talking")), 5000, "the half frame to arrive");
    await clock.advance(5000);
    expect(log.lines.some((l) => l.includes("dropped a partial frame"))).toBe(false);
    await clock.advance(6000);
    await waitFor(() => log.lines.some((l) => l.includes("dropped a partial frame")), 5000, "the partial-frame drop");
    host.send("SYNC fresh\n");
    await host.expectLine("SYNC fresh");
    host.send(encodeFrame({ type: "status", id: 4 }));
    expect(await host.frame()).toMatchObject({ id: 4, ok: true });
  });

  test("a SYNC line over a stale half frame resyncs at once, without waiting for the frame timeout", async () => {
    const clock = new ManualClock();
    const { host, log } = await serialAgent(clock);
    host.send(Buffer.from([0, 0, 0, 200, 0x7b, 0x22]));
    host.send("SYNC over_half\n");
    await host.expectLine("SYNC over_half");
    expect(log.lines.some((l) => l.includes("a partial frame cut short by a SYNC line"))).toBe(true);
    host.send(encodeFrame({ type: "ping", id: 6 }));
    expect(await host.frame()).toMatchObject({ id: 6, ok: true });
  });

  test("an oversize length prefix is discarded to the newline instead of closing (serial resync)", async () => {
    const { host, log } = await serialAgent();
    host.send(Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff]), Buffer.from("rest of junk\nSYNC big\n")]));
    await host.expectLine("SYNC big");
    expect(log.lines.some((l) => /discarded .*over the/.test(l))).toBe(true);
    host.send(encodeFrame({ type: "ping", id: 5 }));
    expect((await host.frame()).id).toBe(5);
  });
});

describe("serial reads stay off the shared fs pool", () => {
  test("three idle serial listeners leave async fs calls free to run", async () => {
    const d = tempDir();
    cleanups.push(() => d.cleanup());
    for (let i = 0; i < 3; i++) await serialAgent();
    const files = Array.from({ length: 4 }, (_, i) => join(d.path, `f${i}`));
    await Promise.all(files.map((f) => Bun.write(f, "x")));
    const texts = await Promise.all(files.map((f) => import("node:fs/promises").then((fs) => fs.readFile(f, "utf8"))));
    expect(texts).toEqual(["x", "x", "x", "x"]);
  });
});

describe("findSerialPort", () => {
  test("finds the port by its virtio name, and says what it saw when none matches", () => {
    const d = tempDir();
    cleanups.push(() => d.cleanup());
    const sys = join(d.path, "virtio-ports");
    for (const [port, name] of [["vport0p1", "org.mvm.agent"], ["vport0p2", "org.qemu.guest_agent.0"]]) {
      mkdirSync(join(sys, port!), { recursive: true });
      writeFileSync(join(sys, port!, "name"), name + "\n");
    }
    mkdirSync(join(sys, "vport0p3")); // no name file
    expect(findSerialPort("org.mvm.agent", sys)).toBe("/dev/vport0p1");
    expect(() => findSerialPort("nope", sys)).toThrow(/no virtio port has that name.*vport0p1=org\.mvm\.agent/);
    expect(() => findSerialPort("x", join(d.path, "missing"))).toThrow(/is missing/);
  });
});
