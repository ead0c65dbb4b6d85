// The seams of the HTTP bridge: the VM list it serves and the one function it calls agents through.

import type { Logger } from "../../agent/log.ts";
import type { VmmConfig } from "../client/vm-list.ts";

/** One VM as the bridge knows it (an entry of vms.json). */
export interface BridgeVm {
  name: string;
  /** Agent address: `firecracker:/path/v.sock:52`, `unix:/path`, `unix+connect:/path:52`, `vsock:CID:PORT`. */
  agent: string;
  console_log?: string;
  labels?: Record<string, string>;
  /** The VM's VMM (QMP or Firecracker API socket), for the snapshot and restore routes. */
  vmm?: VmmConfig;
}

export interface CallOptions {
  timeoutMs: number;
  /** Event frames of streaming requests (`exec` with `stream: true`), in order, before the answer. */
  onEvent?: (event: string, data: unknown) => void;
  /** Aborted when the HTTP client went away (an SSE reader closed its tab). */
  signal?: AbortSignal;
}

/**
 * Call one request on one VM's agent. Resolves with the result; rejects with an error carrying a
 * string `code` (an agent code such as `E_BUSY`, or the client's own: unreachable, timeout).
 * @example const status = await call(vm, "status", {}, { timeoutMs: 5000 });
 */
export type CallFn = (vm: BridgeVm, type: string, params: Record<string, unknown> | undefined, opts: CallOptions) => Promise<unknown>;

/** What `createBridge` needs; everything the bridge knows comes from here and can be rebuilt. */
export interface BridgeDeps {
  /** The VMs now (re-read by the caller when vms.json changes). */
  vms(): readonly BridgeVm[];
  call: CallFn;
  /**
   * Every route but `/healthz` needs `Authorization: Bearer TOKEN`, or the dashboard's login cookie
   * (plus its CSRF header for a change): see host/bridge-auth.ts. `null` turns auth off; there is no
   * default, so that leaving it out is a type error, not an open bridge.
   */
  token: string | null;
  /**
   * Host header names answered besides `127.0.0.1`, `[::1]` and `localhost` with the bound port:
   * `NAME` (any port) or `NAME:PORT`, as `--allow-host` (host/bridge-hosts.ts). Anything else is 403.
   */
  allowHosts?: readonly string[];
  /** The address listened on (`--host`): allowed as a Host name, like the loopback names, with the bound port. Not a wildcard. */
  bindAddress?: string;
  /** The bound port, once listening (loopback Host headers must carry it). Absent: any port (in-process tests). */
  port?: () => number | undefined;
  log?: Logger;
  /** Wall clock in ms (tests inject one). */
  now?: () => number;
  /** Deadline of one ordinary agent call (default 5000 ms). */
  callTimeoutMs?: number;
  /** Follow-mode poll interval of console logs (default 250 ms). */
  logPollMs?: number;
  /** Dashboard auto-refresh period (default 5 s). */
  refreshSecs?: number;
  /**
   * The only directory snapshot and restore requests may name directories under (`--snapshot-dir`);
   * without it those routes answer 403. A path from a web client never reaches the filesystem unconfined.
   */
  snapshotRoot?: string;
}

/** The JSON body of every error answer. */
export interface HttpError {
  code: string;
  message: string;
  data?: unknown;
}
