// The common VMM driver interface (pause, write a snapshot, resume, restore) and the factory that picks one from vms.json.

import type { VmmConfig } from "../vm-list.ts";
import { FirecrackerDriver } from "./firecracker-driver.ts";
import { QemuDriver } from "./qemu-driver.ts";

export type VmmKind = VmmConfig["kind"];

/** The files a snapshot of each VMM kind is made of, by role (the manifest lists them in this order). */
export const SNAPSHOT_ROLES: Record<VmmKind, readonly string[]> = {
  /** QEMU: the migration stream (device state and guest RAM). */
  qemu: ["state"],
  /** Firecracker: the microVM state file and the guest memory file. */
  firecracker: ["vmstate", "memory"],
};

/** One file of a snapshot: its role and the absolute path the VMM reads or writes. */
export interface SnapshotFile {
  role: string;
  path: string;
}

/** What a VMM says about itself and its VM. */
export interface VmmInfo {
  kind: VmmKind;
  /** `7.2.22` (QEMU's query-version), `1.10.1` (Firecracker's GET /version). */
  version: string;
  /** The VMM's own word: QEMU `running`, `paused`, `inmigrate`, ...; Firecracker `Running`, `Paused`, `Not started`. */
  state: string;
  /** The VM runs (a snapshot may start). */
  running: boolean;
  /** The process waits for state (QEMU `-incoming defer`, a fresh Firecracker process): a restore may start. */
  waiting: boolean;
}

/** Deadlines of one driver; each call may pass its own for long operations. */
export interface DriverOptions {
  /** Deadline of one ordinary VMM call in ms (default 5000). */
  callTimeoutMs?: number;
}

/**
 * One VMM, driven through its own API. Every method rejects with a VmmError whose message names the
 * VMM call that failed; the snapshot loop (host/client/snapshot/) puts the step name in front.
 * @example
 * const d = openVmm({ kind: "qemu", qmp: "/run/vm1/qmp.sock" });
 * const info = await d.info();            // { version: "7.2.22", state: "running", ... }
 * await d.pause();
 * await d.writeSnapshot(d.files("/srv/snap", "s1"), { timeoutMs: 300_000 });
 * await d.resume();
 * await d.close();
 */
export interface VmmDriver {
  readonly kind: VmmKind;
  /** The VMM's address, for messages (`qemu qmp:/run/vm1/qmp.sock`). */
  readonly label: string;
  /** Version and run state. */
  info(): Promise<VmmInfo>;
  /** The files a snapshot named `stem` in `dir` is written to (paths only; nothing is created). */
  files(dir: string, stem: string): SnapshotFile[];
  /** Pause the VM's vCPUs. Resolves with a detail line. */
  pause(): Promise<string>;
  /** Write the paused VM's state to `files`, waiting until the VMM says it is complete. */
  writeSnapshot(files: SnapshotFile[], opts: { timeoutMs: number }): Promise<string>;
  /** Let the paused VM run again. */
  resume(): Promise<string>;
  /** Load `files` into a process that waits for state, and let the VM run. */
  restore(files: SnapshotFile[], opts: { timeoutMs: number }): Promise<string>;
  /**
   * After a failed pause or write: stop what still runs (a migration) and let the VM run again if it
   * is paused. Resolves with what was done.
   */
  recover(): Promise<string>;
  /** Release the connection. */
  close(): Promise<void>;
}

/**
 * The driver for a VM's `vmm` entry of vms.json. Nothing connects until the first call.
 * @example const driver = openVmm(vm.vmm, { callTimeoutMs: 5000 });
 */
export function openVmm(config: VmmConfig, opts: DriverOptions = {}): VmmDriver {
  return config.kind === "qemu" ? new QemuDriver(config.qmp, opts) : new FirecrackerDriver(config.api, opts);
}
