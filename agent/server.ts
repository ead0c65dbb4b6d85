// Listeners: unix sockets (Bun.listen, CONNECT handshake emulated), AF_VSOCK (node:net by fd), serial.

import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import net from "node:net";
import type { Agent, Listener } from "./agent.ts";
import type { Session } from "./session.ts";
import type { Transport, TransportKind } from "./transport.ts";
import { vsockListenFd } from "./vsock.ts";
import { listenSerial } from "./serial.ts";

export type ListenAddress =
  | { kind: "unix"; path: string }
  | { kind: "vsock"; port: number }
  | { kind: "serial"; path?: string; name?: string };

/** Parse `unix:PATH`, `vsock:PORT`, `serial:PATH` or `serial:name=NAME`. */
export function parseListenAddress(s: string): ListenAddress {
  if (s.startsWith("unix:") && s.length > 5) return { kind: "unix", path: s.slice(5) };
  if (s.startsWith("vsock:")) {
    const port = Number(s.slice(6));
    if (!Number.isInteger(port) || port < 1 || port > 0xffffffff - 1) throw new Error(`--listen ${s}: the vsock port must be an integer from 1 to 4294967294`);
    return { kind: "vsock", port };
  }
  if (s.startsWith("serial:name=") && s.length > 12) return { kind: "serial", name: s.slice(12) };
  if (s.startsWith("serial:") && s.length > 7) return { kind: "serial", path: s.slice(7) };
  throw new Error(`--listen ${JSON.stringify(s)}: expected unix:PATH, vsock:PORT, serial:PATH or serial:name=NAME`);
}

export interface ListenOptions {
  /** Mode of unix socket files (default 0o600). */
  socketMode?: number;
}

/**
 * Serve an agent on an address; the listener is closed by `agent.stop()`.
 * @example await listen(agent, "unix:/run/mvm/agent.sock");
 */
export async function listen(agent: Agent, address: string | ListenAddress, opts: ListenOptions = {}): Promise<Listener> {
  const a = typeof address === "string" ? parseListenAddress(address) : address;
  let l: Listener;
  if (a.kind === "unix") l = await listenUnix(agent, a.path, opts.socketMode ?? 0o600);
  else if (a.kind === "vsock") l = listenVsock(agent, a.port);
  else l = await listenSerial(agent, a);
  agent.addListener(l);
  agent.log.info(`listening on ${l.address}`);
  return l;
}

let connSeq = 0;

/** Remove a socket file left by a dead agent; refuse to touch a live one or a non-socket. */
async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`--listen unix:${path}: the path exists and is not a socket; not removing it`);
  const live = await new Promise<boolean>((resolve) => {
    const c = net.connect({ path }, () => {
      c.destroy();
      resolve(true);
    });
    c.on("error", () => resolve(false));
  });
  if (live) throw new Error(`--listen unix:${path}: another process is listening there`);
  unlinkSync(path);
}

type BunSock = import("bun").Socket<{ session: Session | null; transport: BunTransport | null }>;

/** Transport over a Bun socket with a write queue (what the kernel did not take yet) for backpressure. */
class BunTransport implements Transport {
  private queue: Uint8Array[] = [];
  private queued = 0;
  private ending = false;
  constructor(private readonly sock: BunSock, readonly label: string) {}

  write(bytes: Uint8Array): void {
    if (this.queue.length) {
      this.queue.push(bytes);
      this.queued += bytes.length;
      return;
    }
    const n = this.sock.write(bytes);
    if (n < 0) return;
    if (n < bytes.length) {
      this.queue.push(bytes.subarray(n));
      this.queued += bytes.length - n;
    }
  }

  writeTransient(bytes: Uint8Array, length: number): void {
    if (this.queue.length) {
      this.queue.push(Uint8Array.prototype.slice.call(bytes, 0, length));
      this.queued += length;
      return;
    }
    const n = this.sock.write(bytes, 0, length);
    if (n < 0) return;
    if (n < length) {
      this.queue.push(Uint8Array.prototype.slice.call(bytes, n, length));
      this.queued += length - n;
    }
  }

  unsent(): number {
    return this.queued;
  }

  pauseReading(): void {
    this.sock.pause();
  }

  resumeReading(): void {
    this.sock.resume();
  }

  abort(): void {
    this.queue = [];
    this.queued = 0;
    this.sock.terminate();
  }

  flush(): void {
    while (this.queue.length) {
      const head = this.queue[0]!;
      const n = this.sock.write(head);
      if (n < 0) {
        this.queue = [];
        this.queued = 0;
        return;
      }
      this.queued -= Math.max(0, n);
      if (n < head.length) {
        this.queue[0] = head.subarray(n);
        return;
      }
      this.queue.shift();
    }
    if (this.ending) this.sock.end();
  }

  end(): void {
    this.ending = true;
    if (this.queue.length === 0) this.sock.end();
  }
}

/**
 * Run `bind` (which creates a socket file) under a umask that leaves the file no more open than `mode`,
 * then restore the process's umask. The file is chmod'ed to `mode` after, but between bind and chmod a
 * permissive umask (0 in some containers and init systems) would leave it 0777 for anyone to connect.
 * Synchronous, so no other JS runs under the narrow umask.
 */
function withUmaskFor<T>(mode: number, bind: () => T): T {
  const old = process.umask(~mode & 0o777);
  try {
    return bind();
  } finally {
    process.umask(old);
  }
}

async function listenUnix(agent: Agent, path: string, mode: number): Promise<Listener> {
  await clearStaleSocket(path);
  const server = withUmaskFor(mode, () => Bun.listen<{ session: Session | null; transport: BunTransport | null }>({
    unix: path,
    socket: {
      open(sock) {
        const t = new BunTransport(sock, `unix:${path}#${++connSeq}`);
        const session = agent.openSession(t, "unix");
        sock.data = { session, transport: t };
        if (!session) sock.end();
      },
      data(sock, chunk) {
        sock.data.session?.onData(chunk);
      },
      drain(sock) {
        sock.data.transport?.flush();
        sock.data.session?.onWritable();
      },
      close(sock) {
        sock.data.session?.close();
      },
      error(sock) {
        sock.data.session?.close();
      },
    },
  }));
  chmodSync(path, mode);
  let closed = false;
  return {
    address: `unix:${path}`,
    async close() {
      if (closed) return;
      closed = true;
      server.stop(false);
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}

/** Serve node:net sockets (vsock by fd, and anything else node:net accepts) as sessions. */
export function serveNetSocket(agent: Agent, sock: net.Socket, kind: TransportKind, label: string): void {
  const t: Transport = {
    label,
    write: (b) => void sock.write(b),
    end: () => void sock.end(),
    unsent: () => sock.writableLength,
    pauseReading: () => void sock.pause(),
    resumeReading: () => void sock.resume(),
    abort: () => void sock.destroy(),
  };
  const session = agent.openSession(t, kind);
  if (!session) {
    sock.destroy();
    return;
  }
  sock.on("data", (chunk: Buffer) => session.onData(chunk));
  sock.on("drain", () => session.onWritable());
  sock.on("close", () => session.close());
  sock.on("error", () => session.close());
}

function listenVsock(agent: Agent, port: number): Listener {
  const fd = vsockListenFd(port);
  const server = net.createServer((sock) => serveNetSocket(agent, sock, "vsock", `vsock:${port}#${++connSeq}`));
  server.on("error", (e) => agent.log.error(`vsock:${port}: ${e.message}`));
  server.listen({ fd });
  return {
    address: `vsock:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
