// Open a byte stream to an agent: unix socket checks, CONNECT/OK and SYNC handshakes, AF_VSOCK by fd.

import { randomBytes } from "node:crypto";
import { lstatSync } from "node:fs";
import net from "node:net";
import { MAX_LINE_BYTES } from "../../agent/frame.ts";
import { vsockConnect, VsockError } from "../../agent/vsock.ts";
import { formatAgentAddress, type AgentAddress } from "./address.ts";
import { ClientError } from "./errors.ts";

/** A connected stream, paused; `rest` holds bytes read past the handshake (frames may follow at once). */
export interface OpenedStream {
  socket: net.Socket;
  rest: Buffer;
}

export interface OpenOptions {
  /** Aborting destroys the half-open socket and rejects with the signal's reason. */
  signal: AbortSignal;
  /** First wait before re-sending a SYNC line with a fresh token on qemu-serial (doubles each time). */
  syncRetryMs?: number;
}

/** Check a socket path before connecting, so a missing VM reads differently from a refused one. */
function checkSocketPath(path: string, label: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EACCES") throw new ClientError("E_PERMISSION_DENIED", `${label}: permission denied reading ${path}`);
    throw new ClientError("E_SOCKET_MISSING", `${label}: no socket at ${path} (is the VM running? is the path right?)`);
  }
  if (!st.isSocket()) throw new ClientError("E_NOT_A_SOCKET", `${label}: ${path} exists but is not a unix socket`);
}

function connectError(e: NodeJS.ErrnoException, path: string, label: string): ClientError {
  switch (e.code) {
    case "ENOENT":
      return new ClientError("E_SOCKET_MISSING", `${label}: no socket at ${path} (is the VM running?)`);
    case "ECONNREFUSED":
      return new ClientError("E_CONNECTION_REFUSED", `${label}: nothing accepts connections on ${path} (stale socket of a stopped VM?)`);
    case "EACCES":
    case "EPERM":
      return new ClientError("E_PERMISSION_DENIED", `${label}: permission denied connecting to ${path}`);
    case "ENOTSOCK":
      return new ClientError("E_NOT_A_SOCKET", `${label}: ${path} is not a unix socket`);
    default:
      return new ClientError("E_CONNECTION_CLOSED", `${label}: connecting to ${path} failed: ${e.code ?? ""} ${e.message}`.trim());
  }
}

/** Run `body` with the socket; destroy it and reject on abort, error or a throw. */
function guarded<T>(socket: net.Socket, signal: AbortSignal, body: (resolve: (v: T) => void, reject: (e: unknown) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let cleanup = () => {};
    const fail = (e: unknown) => {
      cleanup();
      socket.destroy();
      reject(e);
    };
    const onAbort = () => fail(signal.reason);
    if (signal.aborted) return fail(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const inner = body((v) => {
      cleanup();
      resolve(v);
    }, fail);
    cleanup = () => {
      signal.removeEventListener("abort", onAbort);
      inner();
    };
  });
}

function connectUnix(path: string, label: string, signal: AbortSignal): Promise<net.Socket> {
  checkSocketPath(path, label);
  const socket = net.connect({ path });
  socket.on("error", () => {}); // the guard and the connection report errors; never an unhandled throw
  return guarded(socket, signal, (resolve, reject) => {
    const onErr = (e: Error) => reject(connectError(e as NodeJS.ErrnoException, path, label));
    const onConnect = () => resolve(socket);
    socket.once("error", onErr);
    socket.once("connect", onConnect);
    return () => {
      socket.off("error", onErr);
      socket.off("connect", onConnect);
    };
  });
}

/** How readUntil waits: `match` returns the end offset of what was awaited, or -1. */
interface ReadSpec {
  match(buf: Buffer): number;
  /** The error when the stream ends first. */
  onClose(buf: Buffer): ClientError;
  /** An early failure (a handshake line too long), checked after each chunk that did not match. */
  check?(buf: Buffer): ClientError | null;
  /** Keep at most this many trailing bytes while waiting (garbage on a serial stream). */
  keepTail?: number;
}

/** Read until the spec matches; pause the socket and hand back the bytes after the match. */
function readUntil(socket: net.Socket, signal: AbortSignal, spec: ReadSpec): Promise<Buffer> {
  let buf: Buffer = Buffer.alloc(0);
  return guarded(socket, signal, (resolve, reject) => {
    const onData = (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const end = spec.match(buf);
      if (end >= 0) {
        socket.pause();
        resolve(buf.subarray(end));
        return;
      }
      const e = spec.check?.(buf);
      if (e) return reject(e);
      if (spec.keepTail !== undefined && buf.length > spec.keepTail) buf = Buffer.from(buf.subarray(buf.length - spec.keepTail));
    };
    const onEnd = () => reject(spec.onClose(buf));
    socket.on("data", onData);
    socket.once("close", onEnd);
    socket.once("end", onEnd);
    socket.resume();
    return () => {
      socket.off("data", onData);
      socket.off("close", onEnd);
      socket.off("end", onEnd);
    };
  });
}

/** `CONNECT <port>\n` then one `OK <n>\n` line; nothing past its newline is lost. */
async function connectHandshake(socket: net.Socket, port: number, label: string, signal: AbortSignal): Promise<Buffer> {
  socket.write(`CONNECT ${port}\n`);
  let line = "";
  const rest = await readUntil(socket, signal, {
    match(buf) {
      const nl = buf.indexOf(0x0a);
      if (nl < 0) return -1;
      line = buf.subarray(0, nl).toString("latin1").replace(/\r$/, "");
      return nl + 1;
    },
    onClose: (buf) =>
      new ClientError(
        "E_HANDSHAKE",
        buf.length
          ? `${label}: the connection closed in the middle of the handshake answer ${JSON.stringify(buf.toString("latin1").slice(0, 64))}`
          : `${label}: the connection closed after CONNECT ${port} with no answer (no agent listening on vsock port ${port} in the guest? still booting?)`,
      ),
    check: (buf) =>
      buf.length > MAX_LINE_BYTES ? new ClientError("E_HANDSHAKE", `${label}: the answer to CONNECT ${port} is not a line (no newline within ${MAX_LINE_BYTES} bytes)`) : null,
  });
  if (!line.startsWith("OK ")) {
    socket.destroy();
    throw new ClientError("E_HANDSHAKE", `${label}: CONNECT ${port} was answered ${JSON.stringify(line.slice(0, 64))} instead of "OK <n>"`);
  }
  return rest;
}

/**
 * Serial stream: write `SYNC <token>\n` and drop everything until that exact line comes back. If it
 * does not come back soon (guest still booting), send a fresh token; only the latest one counts, so
 * echoes of earlier ones are dropped as well.
 */
async function syncHandshake(socket: net.Socket, label: string, signal: AbortSignal, retryMs: number): Promise<Buffer> {
  let token = "";
  let needle = Buffer.alloc(0);
  let wait = retryMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const send = () => {
    token = randomBytes(12).toString("base64url");
    needle = Buffer.from(`SYNC ${token}\n`);
    socket.write(needle);
    timer = setTimeout(send, wait);
    wait = Math.min(wait * 2, 8_000);
  };
  send();
  try {
    return await readUntil(socket, signal, {
      match(buf) {
        const at = buf.indexOf(needle);
        return at >= 0 ? at + needle.length : -1;
      },
      onClose: () => new ClientError("E_HANDSHAKE", `${label}: the serial socket closed before the agent echoed SYNC (QEMU stopped? another client connected?)`),
      // Garbage never grows the buffer: keep only a tail that could hold the start of the line.
      keepTail: 128,
    });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Connect to an agent and do the address's handshake. The socket comes back paused; `rest` holds any
 * bytes that arrived after the handshake line.
 * @example const { socket, rest } = await openAgentStream(parseAgentAddress("unix:/run/mvm/agent.sock"), { signal });
 */
export async function openAgentStream(addr: AgentAddress, opts: OpenOptions): Promise<OpenedStream> {
  const label = formatAgentAddress(addr);
  const { signal } = opts;
  if (addr.kind === "vsock") {
    let fd: number;
    try {
      // Non-blocking: a guest with no listener must not stall every other VM's calls.
      fd = await vsockConnect(addr.cid, addr.port, 60_000, signal);
    } catch (e) {
      throw new ClientError("E_VSOCK", e instanceof VsockError ? e.message : `${label}: ${(e as Error).message}`);
    }
    // net.connect({ fd }), not new net.Socket({ fd }): on Bun 1.4.5 the latter cannot write (found
    // by the real-VM suite, where AF_VSOCK exists).
    const socket = net.connect({ fd } as net.NetConnectOpts);
    socket.on("error", () => {});
    socket.pause();
    return { socket, rest: Buffer.alloc(0) };
  }
  const socket = await connectUnix(addr.path, label, signal);
  let rest: Buffer = Buffer.alloc(0);
  if (addr.kind === "firecracker" || (addr.kind === "unix" && addr.port !== undefined)) rest = await connectHandshake(socket, addr.port!, label, signal);
  else if (addr.kind === "qemu-serial") rest = await syncHandshake(socket, label, signal, opts.syncRetryMs ?? 1000);
  socket.pause();
  return { socket, rest };
}
