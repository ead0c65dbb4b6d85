// Agent addresses for host clients: parse and print firecracker:, unix:, unix+connect:, vsock:, qemu-serial:.

import { ClientError } from "./errors.ts";

/** Where an agent listens, as the host reaches it. */
export type AgentAddress =
  /** Firecracker's vsock UDS: connect, `CONNECT <port>\n`, expect `OK <n>\n`, then frames. */
  | { kind: "firecracker"; path: string; port: number }
  /** A unix socket the agent listens on (Docker mode); `port` set means do the CONNECT handshake first. */
  | { kind: "unix"; path: string; port?: number }
  /** AF_VSOCK from the host or inside a guest (CID 1 = local loopback, 2 = host, 3+ = guests). */
  | { kind: "vsock"; cid: number; port: number }
  /** A QEMU chardev unix socket wired to a virtio-serial port: `SYNC <token>\n` resync, then frames. */
  | { kind: "qemu-serial"; path: string };

const USAGE = "expected firecracker:/path/v.sock:PORT, unix:/path, unix+connect:/path:PORT, vsock:CID:PORT or qemu-serial:/path";

function port(text: string, whole: string): number {
  const n = Number(text);
  if (!/^\d{1,10}$/.test(text) || !Number.isInteger(n) || n < 1 || n > 0xfffffffe)
    throw new ClientError("E_BAD_ADDRESS", `agent address ${JSON.stringify(whole)}: port ${JSON.stringify(text)} must be a whole number from 1 to 4294967294`);
  return n;
}

/** Split `PATH:PORT` at the last colon (paths may contain colons). */
function pathAndPort(rest: string, whole: string): { path: string; port: number } {
  const i = rest.lastIndexOf(":");
  if (i <= 0 || i === rest.length - 1) throw new ClientError("E_BAD_ADDRESS", `agent address ${JSON.stringify(whole)}: missing :PORT after the socket path (${USAGE})`);
  return { path: rest.slice(0, i), port: port(rest.slice(i + 1), whole) };
}

/**
 * Parse an agent address. Throws ClientError `E_BAD_ADDRESS` with the expected forms.
 * @example parseAgentAddress("firecracker:/var/lib/mvm/vm1/v.sock:52") // { kind: "firecracker", path: "/var/lib/mvm/vm1/v.sock", port: 52 }
 */
export function parseAgentAddress(s: string): AgentAddress {
  const colon = s.indexOf(":");
  const scheme = colon > 0 ? s.slice(0, colon) : "";
  const rest = colon > 0 ? s.slice(colon + 1) : "";
  if (!rest) throw new ClientError("E_BAD_ADDRESS", `agent address ${JSON.stringify(s)}: ${USAGE}`);
  switch (scheme) {
    case "firecracker":
      return { kind: "firecracker", ...pathAndPort(rest, s) };
    case "unix":
      return { kind: "unix", path: rest };
    case "unix+connect":
      return { kind: "unix", ...pathAndPort(rest, s) };
    case "qemu-serial":
      return { kind: "qemu-serial", path: rest };
    case "vsock": {
      const m = /^(\d{1,10}):(\d{1,10})$/.exec(rest);
      if (!m) throw new ClientError("E_BAD_ADDRESS", `agent address ${JSON.stringify(s)}: expected vsock:CID:PORT with whole numbers`);
      const cid = Number(m[1]);
      if (cid > 0xffffffff) throw new ClientError("E_BAD_ADDRESS", `agent address ${JSON.stringify(s)}: CID ${cid} is over 4294967295`);
      return { kind: "vsock", cid, port: port(m[2]!, s) };
    }
    default:
      throw new ClientError("E_BAD_ADDRESS", `agent address ${JSON.stringify(s)}: unknown scheme ${JSON.stringify(scheme)}; ${USAGE}`);
  }
}

/** The canonical text of an address (what parseAgentAddress reads back). */
export function formatAgentAddress(a: AgentAddress): string {
  switch (a.kind) {
    case "firecracker":
      return `firecracker:${a.path}:${a.port}`;
    case "unix":
      return a.port === undefined ? `unix:${a.path}` : `unix+connect:${a.path}:${a.port}`;
    case "vsock":
      return `vsock:${a.cid}:${a.port}`;
    case "qemu-serial":
      return `qemu-serial:${a.path}`;
  }
}
