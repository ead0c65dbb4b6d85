// The serial transport (virtio-serial port, qemu-ga style): one long stream, resynced by SYNC lines.

import { closeSync, openSync, readdirSync, readFileSync, write } from "node:fs";
import type { Agent, Listener } from "./agent.ts";
import { readFdInThread, type FdReader } from "./fd-reader.ts";
import type { Session } from "./session.ts";
import type { Transport } from "./transport.ts";

/** Find `/dev/vportNpM` whose virtio name is `name` (no udev in small guests, so no symlink). */
export function findSerialPort(name: string, sysDir = "/sys/class/virtio-ports", devDir = "/dev"): string {
  let entries: string[] = [];
  try {
    entries = readdirSync(sysDir);
  } catch {
    throw new Error(`serial:name=${name}: ${sysDir} is missing (no virtio-serial device, or virtio_console not loaded?)`);
  }
  const seen: string[] = [];
  for (const e of entries.sort()) {
    let n: string;
    try {
      n = readFileSync(`${sysDir}/${e}/name`, "utf8").trim();
    } catch {
      continue; // a port without a name
    }
    if (n === name) return `${devDir}/${e}`;
    if (n) seen.push(`${e}=${n}`);
  }
  throw new Error(`serial:name=${name}: no virtio port has that name (looked in ${sysDir}/*/name; found ${seen.join(", ") || "no named port"})`);
}

/**
 * Serve one long-lived stream on a character device (a virtio-serial port, a tty), read and written
 * on one fd (a virtio port can be opened only once). The stream is never closed by the protocol: host
 * sessions come and go over it, and `SYNC <token>` lines resync them (see agent/session.ts).
 * @example await listen(agent, "serial:name=org.mvm.agent");
 */
export async function listenSerial(agent: Agent, a: { path?: string; name?: string }): Promise<Listener> {
  const path = a.path ?? findSerialPort(a.name!);
  let fd: number;
  try {
    fd = openSync(path, "r+");
  } catch (e) {
    throw new Error(`serial:${path}: cannot open: ${(e as Error).message}`);
  }
  const label = `serial:${path}`;
  const log = agent.log;
  let closed = false;
  let writing: Promise<void> = Promise.resolve();
  /** Whether a host seems to hold the other end (bytes came, and no EOF since). */
  let hostPresent = false;
  let writeFailed = false;
  /** Bytes handed to write() and not yet written to the port (a host that does not read holds them). */
  let unsent = 0;
  let session: Session | null = null;
  let reader: FdReader | null = null;
  const transport: Transport = {
    label,
    write(bytes) {
      if (closed) return;
      const copy = Uint8Array.from(bytes);
      unsent += copy.length;
      writing = writing
        .then(() => writeAll(fd, copy))
        .then(
          () => void (writeFailed = false),
          (e: Error) => {
            // ENODEV: no host on the other end; the answer is lost, the next session resyncs. Said once.
            if (!writeFailed) log.warn(`${label}: write failed (${e.message}); answers are dropped until a host reads again`);
            writeFailed = true;
          },
        )
        .then(() => {
          unsent -= copy.length;
          session?.onWritable();
        });
    },
    // A serial stream is never closed by a protocol event: the next host session reuses it.
    end() {},
    unsent: () => unsent,
    pauseReading: () => reader?.pause(),
    resumeReading: () => reader?.resume(),
  };
  session = agent.openSession(transport, "serial");
  if (!session) {
    closeSync(fd);
    throw new Error(`${label}: no session slot`);
  }
  const s = session;
  let readError = "";
  reader = readFdInThread(fd, {
    data(bytes) {
      if (closed) return;
      readError = "";
      if (!hostPresent) log.debug(`${label}: a host is talking`);
      hostPresent = true;
      s.onData(bytes);
    },
    eof() {
      if (hostPresent) log.debug(`${label}: the host went away; waiting for the next one`);
      hostPresent = false;
    },
    error(message) {
      if (closed || message === readError) return;
      readError = message;
      log.warn(`${label}: read failed (${message}); retrying`);
    },
  });
  return {
    address: label,
    async close() {
      if (closed) return;
      closed = true;
      s.close();
      // Flush answers, then let the reader close the fd; a silent host must not hold the shutdown.
      let t: ReturnType<typeof setTimeout> | undefined;
      const grace = () => new Promise((r) => (t = setTimeout(r, 1000)));
      await Promise.race([writing, grace()]);
      clearTimeout(t);
      await Promise.race([reader!.stop(), grace()]);
      clearTimeout(t);
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
