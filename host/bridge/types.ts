// What createBridge is built from: the VM list it serves, the one function it calls agents through, auth and limits.

import type { Logger } from "../../agent/log.ts";
import type { VmCall } from "../client/overview.ts";
import type { VmEntry } from "../client/vm-list.ts";
import type { MetricsLimits } from "./metrics-vm.ts";

/** What `createBridge` needs; everything the bridge knows comes from here and can be rebuilt. */
export interface BridgeDeps {
  /** The VMs now (re-read by the caller when vms.json changes). */
  vms(): readonly VmEntry[];
  /** How agents are called (clientPool().call in `mvmctl serve`). */
  call: VmCall;
  /**
   * Every route but `/healthz` needs `Authorization: Bearer TOKEN`, or the dashboard's login cookie
   * (plus its CSRF header for a change): see host/bridge/auth.ts. `null` turns auth off; there is no
   * default, so that leaving it out is a type error, not an open bridge.
   */
  token: string | null;
  /**
   * Host header names answered besides `127.0.0.1`, `[::1]` and `localhost` with the bound port:
   * `NAME` (any port) or `NAME:PORT`, as `--allow-host` (host/bridge/hosts.ts). Anything else is 403.
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
  /** Caps on the series guest data may add to /metrics (host/bridge/metrics-vm.ts; defaults there). */
  metricsLimits?: Partial<MetricsLimits>;
}

/** The JSON body of every error answer. */
export interface HttpError {
  code: string;
  message: string;
  data?: unknown;
}
