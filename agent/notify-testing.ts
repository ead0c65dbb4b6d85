// Test support for sd_notify: the receiving end systemd has (a unix datagram socket), through bun:ffi.

import { dlopen, FFIType, ptr } from "bun:ffi";
import { notifyAddress } from "./notify.ts";
import { waitFor } from "./testing.ts";

const libc = dlopen("libc.so.6", {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
}).symbols;

/**
 * What systemd does on its side: a bound AF_UNIX SOCK_DGRAM socket at a path or `@abstract` name;
 * `poll()` drains it without blocking, `next()` waits for one more datagram.
 * @example const r = new NotifyReceiver("@test-1"); spawn(..., { env: { NOTIFY_SOCKET: r.address } }); await r.next("READY=1");
 */
export class NotifyReceiver {
  readonly messages: string[] = [];
  private readonly fd: number;
  constructor(readonly address: string) {
    this.fd = libc.socket(1, 2 | 0o4000 | 0o2000000, 0); // AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC
    const addr = notifyAddress(address);
    if (this.fd < 0 || libc.bind(this.fd, ptr(addr), addr.length) !== 0) throw new Error(`cannot bind a datagram socket at ${address}`);
  }
  poll(): string[] {
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = Number(libc.recv(this.fd, ptr(buf), buf.length, 0x40)); // MSG_DONTWAIT
      if (n < 0) return this.messages;
      this.messages.push(Buffer.from(buf.subarray(0, n)).toString());
    }
  }
  async next(what: string): Promise<string> {
    const seen = this.messages.length;
    await waitFor(() => this.poll().length > seen, 30_000, what);
    return this.messages[seen]!;
  }
  close(): void {
    libc.close(this.fd);
  }
}
