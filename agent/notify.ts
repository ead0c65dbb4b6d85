// systemd's readiness protocol (sd_notify): READY=1 / STOPPING=1 as one datagram to $NOTIFY_SOCKET, a unix
// datagram socket, which Bun cannot send to natively, so through bun:ffi (socket + sendto, never blocking).

import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { constants } from "node:os";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(sockaddr_un.sun_path) on Linux. */
const SUN_PATH = 108;

/**
 * The sockaddr_un for a NOTIFY_SOCKET value: an absolute path, or `@name` for the abstract namespace
 * (a leading NUL, no trailing one). Throws a sentence naming the problem for anything else.
 * @example notifyAddress("/run/systemd/notify").length // 2 + 19 + 1
 */
export function notifyAddress(value: string): Uint8Array {
  const abstract = value.startsWith("@");
  if (!abstract && !value.startsWith("/"))
    throw new Error(`NOTIFY_SOCKET=${JSON.stringify(value)} is neither an absolute path nor @abstract (other forms, such as vsock:, are not supported)`);
  const name = Buffer.from(abstract ? value.slice(1) : value);
  if (name.includes(0)) throw new Error("NOTIFY_SOCKET holds a NUL byte");
  if (name.length === 0 || name.length > SUN_PATH - 1) throw new Error(`NOTIFY_SOCKET is ${name.length} bytes; a unix socket address holds 1 to ${SUN_PATH - 1}`);
  const addr = new Uint8Array(2 + 1 + name.length);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(name, abstract ? 3 : 2); // abstract: sun_path[0] stays NUL; a path: the last byte stays NUL
  return addr;
}

let libc: ReturnType<typeof openLibc> | null = null;
function openLibc() {
  return dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}

function errnoName(l: ReturnType<typeof openLibc>["symbols"]): string {
  const p = l.__errno_location();
  const n = p ? read.i32(p, 0) : 0;
  for (const [name, v] of Object.entries(constants.errno)) if (v === n) return name;
  return `errno ${n}`;
}

/** Send one datagram `state` to `addr`; returns null, or what failed (`sendto: ECONNREFUSED`). Never blocks. */
function send(addr: Uint8Array, state: string): string | null {
  let l;
  try {
    l = (libc ??= openLibc()).symbols;
  } catch (e) {
    return `cannot load libc.so.6 (${(e as Error).message})`;
  }
  const fd = l.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return `socket: ${errnoName(l)}`;
  try {
    const msg = Buffer.from(state);
    const n = Number(l.sendto(fd, ptr(msg), msg.length, MSG_DONTWAIT | MSG_NOSIGNAL, ptr(addr), addr.length));
    return n === msg.length ? null : n < 0 ? `sendto: ${errnoName(l)}` : `sendto: sent ${n} of ${msg.length} bytes`;
  } finally {
    l.close(fd);
  }
}

/** Tells systemd about this process's state; every call is a no-op when the service manager did not ask. */
export type Notify = (state: "READY=1" | "STOPPING=1") => void;

/**
 * Take `NOTIFY_SOCKET` out of `env` (so that commands the agent runs do not inherit it and speak for the
 * agent) and return a sender to it. Without NOTIFY_SOCKET the sender does nothing. A bad value or a
 * failed send is one warning each (`warn`), never an error: the agent serves either way, and systemd
 * then reports the start as timed out, which names the cause.
 * @example const notify = takeNotifySocket(process.env, (m) => log.warn(m)); ...; notify("READY=1");
 */
export function takeNotifySocket(env: Record<string, string | undefined>, warn: (message: string) => void): Notify {
  const value = env.NOTIFY_SOCKET;
  delete env.NOTIFY_SOCKET;
  if (value === undefined || value === "") return () => {};
  let addr: Uint8Array;
  try {
    addr = notifyAddress(value);
  } catch (e) {
    warn(`cannot notify systemd: ${(e as Error).message}`);
    return () => {};
  }
  return (state) => {
    const failed = send(addr, state);
    if (failed) warn(`cannot notify systemd (${state} to ${value}): ${failed}`);
  };
}
