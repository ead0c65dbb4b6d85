// AF_VSOCK sockets through bun:ffi (listen on CID any, or connect), handed to node:net by fd.

import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { constants } from "node:os";

export const AF_VSOCK = 40;
const VMADDR_CID_ANY = 0xffffffff;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;

let libc: ReturnType<typeof openLibc> | null = null;
function openLibc() {
  return dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
    getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}
function lib() {
  return (libc ??= openLibc()).symbols;
}

/** An errno from a vsock call, with a sentence that names the likely cause. */
export class VsockError extends Error {
  constructor(readonly errno: string, readonly op: string, message: string) {
    super(message);
  }
}

function errnoName(): string {
  const p = lib().__errno_location();
  const n = p ? read.i32(p, 0) : 0;
  for (const [name, v] of Object.entries(constants.errno)) if (v === n) return name;
  return `errno ${n}`;
}

function explain(op: string, errno: string, port: number, cid?: number): VsockError {
  const where = cid === undefined ? `vsock port ${port}` : `vsock ${cid}:${port}`;
  const hints: Record<string, string> = {
    EAFNOSUPPORT: "AF_VSOCK is not available in this kernel (load the vsock module: vmw_vsock_virtio_transport, vhost_vsock or vsock_loopback)",
    EACCES: `port ${port} is below 1024 and needs CAP_NET_BIND_SERVICE (run as root, grant the capability, or use a port above 1023)`,
    EPERM: `port ${port} is below 1024 and needs CAP_NET_BIND_SERVICE (run as root, grant the capability, or use a port above 1023)`,
    EADDRINUSE: `${where} is already in use (another agent running?)`,
    EADDRNOTAVAIL: `${where} has no transport here (no vsock device in this VM?)`,
    ENODEV: "no vsock transport is loaded (no vsock device in this VM?)",
    ECONNREFUSED: `nothing listens on ${where}`,
    ECONNRESET: `${where} reset the connection (nothing listens there?)`,
    ETIMEDOUT: `connecting to ${where} timed out`,
    ENETUNREACH: `${where} is unreachable (no vsock transport to that CID)`,
  };
  return new VsockError(errno, op, `${op} ${where}: ${errno}${hints[errno] ? ` — ${hints[errno]}` : ""}`);
}

function sockaddr(cid: number, port: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_VSOCK, true);
  v.setUint32(4, port >>> 0, true);
  v.setUint32(8, cid >>> 0, true);
  return b;
}

/**
 * socket + bind(CID any, port) + listen. Returns the listening fd for `net.createServer().listen({ fd })`.
 * Throws VsockError with the cause (no AF_VSOCK, port needs CAP_NET_BIND_SERVICE, in use).
 */
export function vsockListenFd(port: number, backlog = 128): number {
  const l = lib();
  const fd = l.socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw explain("socket", errnoName(), port);
  const addr = sockaddr(VMADDR_CID_ANY, port);
  if (l.bind(fd, ptr(addr), addr.length) !== 0) {
    const e = errnoName();
    l.close(fd);
    throw explain("bind", e, port);
  }
  if (l.listen(fd, backlog) !== 0) {
    const e = errnoName();
    l.close(fd);
    throw explain("listen", e, port);
  }
  return fd;
}

function errnoNameOf(n: number): string {
  for (const [name, v] of Object.entries(constants.errno)) if (v === n) return name;
  return `errno ${n}`;
}

/**
 * Connect to CID:PORT without blocking the event loop: a non-blocking connect, then its
 * completion polled every few milliseconds until `timeoutMs`. Resolves with the connected fd.
 * @example const fd = await vsockConnect(3, 52, 5000); const sock = net.connect({ fd } as net.NetConnectOpts);
 */
export async function vsockConnect(cid: number, port: number, timeoutMs = 10_000, signal?: AbortSignal): Promise<number> {
  const l = lib();
  const fd = l.socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw explain("socket", errnoName(), port, cid);
  const addr = sockaddr(cid, port);
  if (l.connect(fd, ptr(addr), addr.length) === 0) return fd;
  const e = errnoName();
  if (e !== "EINPROGRESS" && e !== "EAGAIN") {
    l.close(fd);
    throw explain("connect", e, port, cid);
  }
  const pfd = new Uint8Array(8);
  const pv = new DataView(pfd.buffer);
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    pv.setInt32(0, fd, true);
    pv.setInt16(4, 4 /* POLLOUT */, true);
    pv.setInt16(6, 0, true);
    const n = l.poll(ptr(pfd), 1, 0);
    if (n > 0) break;
    if (signal?.aborted || performance.now() > deadline) {
      l.close(fd);
      throw explain("connect", signal?.aborted ? "ECANCELED" : "ETIMEDOUT", port, cid);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const err = new Int32Array(1);
  const len = new Uint32Array([4]);
  l.getsockopt(fd, 1 /* SOL_SOCKET */, 4 /* SO_ERROR */, ptr(err), ptr(len));
  if (err[0] !== 0) {
    l.close(fd);
    throw explain("connect", errnoNameOf(err[0]!), port, cid);
  }
  return fd;
}

/** Close an fd obtained here that was never handed to node:net. */
export function closeFd(fd: number): void {
  lib().close(fd);
}
