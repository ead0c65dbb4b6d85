// The serial transport (virtio-serial port, qemu-ga style): one long stream, resynced by SYNC lines.

import { closeSync, openSync, read, readdirSync, readFileSync, write } from "node:fs";
import type { Agent, Listener } from "./agent.ts";
import type { Transport } from "./session.ts";

/** Find `/dev/vportNpM` whose virtio name is `name` (no udev in small guests, so no symlink). */
export function findSerialPort(name: string, sysDir = "/sys/class/virtio-ports"): string {
  let entries: string[] = [];
  try {
    entries = readdirSync(sysDir);
  } catch {
    throw new Error(`serial:name=${name}: ${sysDir} is missing (no virtio-serial device?)`);
  }
  for (const e of entries) {
    try {
      if (readFileSync(`${sysDir}/${e}/name`, "utf8").trim() === name) return `/dev/${e}`;
    } catch {
      // a port without a name
    }
  }
  throw new Error(`serial:name=${name}: no virtio port has that name (looked in ${sysDir}/*/name)`);
}

/** Serve one long-lived stream on a character device (or any file opened read-write). */
export async function listenSerial(agent: Agent, a: { path?: string; name?: string }): Promise<Listener> {
  const path = a.path ?? findSerialPort(a.name!);
  const fd = openSync(path, "r+");
  const label = `serial:${path}`;
  let closed = false;
  let writing: Promise<void> = Promise.resolve();
  let ended = false;
  const transport: Transport = {
    label,
    write(bytes) {
      if (closed) return;
      const copy = Uint8Array.from(bytes);
      writing = writing.then(() => writeAll(fd, copy)).catch((e) => agent.log.warn(`${label}: write failed: ${e.message}`));
    },
    // A serial stream is never closed by a protocol event: the next host session reuses it.
    end() {
      ended = true;
    },
  };
  const session = agent.openSession(transport, "serial");
  if (!session) {
    closeSync(fd);
    throw new Error(`${label}: no session slot`);
  }
  const buf = Buffer.allocUnsafe(64 * 1024);
  const loop = (async () => {
    while (!closed) {
      const n = await new Promise<number>((resolve) =>
        read(fd, buf, 0, buf.length, null, (err, bytes) => resolve(err ? -1 : bytes)),
      );
      if (closed) break;
      if (n < 0) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (n === 0) {
        // No host on the other end: poll gently until one connects.
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (ended) ended = false;
      session.onData(Uint8Array.from(buf.subarray(0, n)));
    }
  })();
  return {
    address: label,
    async close() {
      if (closed) return;
      closed = true;
      session.close();
      await writing;
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
      void loop;
    },
  };
}

function writeAll(fd: number, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    let off = 0;
    const step = () =>
      write(fd, bytes, off, bytes.length - off, null, (err, n) => {
        if (err) return reject(err);
        off += n;
        if (off < bytes.length) step();
        else resolve();
      });
    step();
  });
}
