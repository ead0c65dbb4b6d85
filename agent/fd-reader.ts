// Blocking reads of one fd on a thread of its own (serial ports), so they never park on Bun's shared fs pool.

/** EOF (no host on a virtio port) and errors back off from this to IDLE_MAX_MS, doubling. */
const IDLE_FIRST_MS = 20;
const IDLE_MAX_MS = 500;

type ReaderMessage = { kind: "data"; bytes: Uint8Array } | { kind: "eof" } | { kind: "error"; message: string } | { kind: "closed" };

/**
 * The thread. It owns the fd: on stop it closes the fd itself after its read returns, so no read can
 * ever land on a recycled fd number. Control word 0: 1 = stop (Atomics.notify wakes a backoff nap).
 * Control word 1: 1 = paused (backpressure): no read starts until it is 0 again.
 */
const READER_SOURCE = `
const fs = require("node:fs");
self.onmessage = (e) => {
  const { fd, ctl, firstMs, maxMs } = e.data;
  const flag = new Int32Array(ctl);
  const buf = Buffer.allocUnsafe(65536);
  let idle = 0, talking = false, lastError = "";
  const finish = () => {
    try { fs.closeSync(fd); } catch {}
    postMessage({ kind: "closed" });
    self.close();
  };
  for (;;) {
    if (Atomics.load(flag, 0) === 1) return finish();
    while (Atomics.load(flag, 1) === 1 && Atomics.load(flag, 0) !== 1) Atomics.wait(flag, 1, 1, 1000);
    if (Atomics.load(flag, 0) === 1) return finish();
    let n = -1;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      if (err.code === "EBADF") return finish();
      if (err.message !== lastError) postMessage({ kind: "error", message: err.message });
      lastError = err.message;
    }
    if (Atomics.load(flag, 0) === 1) return finish();
    if (n > 0) {
      idle = 0;
      talking = true;
      lastError = "";
      postMessage({ kind: "data", bytes: buf.slice(0, n) });
      continue;
    }
    if (n === 0 && talking) {
      talking = false;
      postMessage({ kind: "eof" });
    }
    idle = Math.min(maxMs, idle ? idle * 2 : firstMs);
    Atomics.wait(flag, 0, 0, idle);
  }
};
`;

let readerBlobUrl: string | null = null;
/** A blob URL, so that compiled binaries need no extra worker entry point. */
function readerUrl(): string {
  return (readerBlobUrl ??= URL.createObjectURL(new Blob([READER_SOURCE], { type: "application/javascript" })));
}

export interface FdReader {
  /** Start no new read until `resume` (backpressure; a read already waiting still delivers its bytes). */
  pause(): void;
  resume(): void;
  /**
   * Ask the thread to stop; it closes the fd once its current read returns (a read waiting for a
   * silent peer returns only when bytes or a hangup come). Resolves when the fd is closed.
   */
  stop(): Promise<void>;
}

/**
 * Read `fd` with blocking reads on a dedicated thread and hand the bytes to the event loop. A read
 * that waits in the kernel for a peer must not sit on Bun's shared fs pool (2 threads on a 2-CPU
 * machine): parked there it would starve every other async fs call of the process. The reader owns
 * the fd from now on (it closes it on stop); the caller may still write to it until then.
 * @example const r = readFdInThread(fd, { data: (b) => session.onData(b), eof() {}, error: (m) => log.warn(m) }); await r.stop();
 */
export function readFdInThread(fd: number, on: { data(bytes: Uint8Array): void; eof(): void; error(message: string): void }): FdReader {
  const ctl = new SharedArrayBuffer(8);
  const flag = new Int32Array(ctl);
  const worker = new Worker(readerUrl());
  let closed!: () => void;
  const done = new Promise<void>((r) => (closed = r));
  let stopping = false;
  worker.onmessage = (e: MessageEvent<ReaderMessage>) => {
    const m = e.data;
    if (m.kind === "closed") {
      closed();
      worker.terminate();
    } else if (stopping) return;
    else if (m.kind === "data") on.data(m.bytes);
    else if (m.kind === "eof") on.eof();
    else on.error(m.message);
  };
  worker.postMessage({ fd, ctl, firstMs: IDLE_FIRST_MS, maxMs: IDLE_MAX_MS });
  return {
    pause() {
      Atomics.store(flag, 1, 1);
    },
    resume() {
      Atomics.store(flag, 1, 0);
      Atomics.notify(flag, 1);
    },
    stop() {
      stopping = true;
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      Atomics.notify(flag, 1);
      return done;
    },
  };
}
