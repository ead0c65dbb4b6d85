// Test support: a pseudo-terminal pair in raw mode, the stand-in for a virtio-serial port.

import { CString, dlopen, FFIType, ptr } from "bun:ffi";
import { openSync } from "node:fs";

const libc = dlopen("libc.so.6", {
  posix_openpt: { args: [FFIType.i32], returns: FFIType.i32 },
  grantpt: { args: [FFIType.i32], returns: FFIType.i32 },
  unlockpt: { args: [FFIType.i32], returns: FFIType.i32 },
  ptsname: { args: [FFIType.i32], returns: FFIType.ptr },
  tcgetattr: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  tcsetattr: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  cfmakeraw: { args: [FFIType.ptr], returns: FFIType.void },
}).symbols;

const O_RDWR = 2;
const O_NOCTTY = 0o400;

/** A pty pair in raw mode (no echo, no newline translation): the test holds the master, the agent opens the slave. */
export function openPty(): { master: number; slavePath: string; keep: number } {
  const master = libc.posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || libc.grantpt(master) !== 0 || libc.unlockpt(master) !== 0) throw new Error("cannot open a pty");
  const slavePath = new CString(libc.ptsname(master)!).toString();
  const keep = openSync(slavePath, "r+");
  const termios = new Uint8Array(64);
  if (libc.tcgetattr(keep, ptr(termios)) !== 0) throw new Error("tcgetattr failed");
  libc.cfmakeraw(ptr(termios));
  if (libc.tcsetattr(keep, 0, ptr(termios)) !== 0) throw new Error("tcsetattr failed");
  return { master, slavePath, keep };
}
