// The Firecracker driver: PATCH /vm Paused, PUT /snapshot/create Full, PATCH /vm Resumed, PUT /snapshot/load with resume_vm.

import { join } from "node:path";
import type { DriverOptions, SnapshotFile, VmmDriver, VmmInfo } from "./driver.ts";
import { VmmError } from "./errors.ts";
import { FirecrackerApi } from "./firecracker-api.ts";

function file(files: SnapshotFile[], role: string): string {
  const f = files.find((x) => x.role === role);
  if (!f) throw new VmmError("E_VMM_STATE", `no ${role} file in the snapshot`);
  return f.path;
}

/**
 * Firecracker through its API socket (calls and rules: ../shared/reference/vmm-snapshot-apis.md).
 * @example const d = new FirecrackerDriver("/run/vm1/api.sock"); await d.pause(); await d.writeSnapshot(d.files(dir, "s1"), { timeoutMs: 300_000 });
 */
export class FirecrackerDriver implements VmmDriver {
  readonly kind = "firecracker" as const;
  readonly label: string;
  private readonly api: FirecrackerApi;

  constructor(
    readonly socket: string,
    opts: DriverOptions = {},
  ) {
    this.label = `firecracker api:${socket}`;
    this.api = new FirecrackerApi(socket, { timeoutMs: opts.callTimeoutMs ?? 5000 });
  }

  async info(): Promise<VmmInfo> {
    const i = await this.api.instance();
    const version = await this.api.version();
    return { kind: "firecracker", version, state: i.state, running: i.state === "Running", waiting: i.state === "Not started" };
  }

  files(dir: string, stem: string): SnapshotFile[] {
    return [
      { role: "vmstate", path: join(dir, `${stem}.vmstate`) },
      { role: "memory", path: join(dir, `${stem}.memory`) },
    ];
  }

  async pause(): Promise<string> {
    await this.api.call("PATCH", "/vm", { state: "Paused" });
    return "PATCH /vm Paused";
  }

  async writeSnapshot(files: SnapshotFile[], opts: { timeoutMs: number }): Promise<string> {
    const body = { snapshot_type: "Full", snapshot_path: file(files, "vmstate"), mem_file_path: file(files, "memory") };
    await this.api.call("PUT", "/snapshot/create", body, { timeoutMs: opts.timeoutMs });
    return `PUT /snapshot/create Full: ${body.snapshot_path}, ${body.mem_file_path}`;
  }

  async resume(): Promise<string> {
    await this.api.call("PATCH", "/vm", { state: "Resumed" });
    return "PATCH /vm Resumed";
  }

  async restore(files: SnapshotFile[], opts: { timeoutMs: number }): Promise<string> {
    const before = await this.api.instance();
    if (before.state !== "Not started")
      throw new VmmError("E_VMM_STATE", `Firecracker is not a fresh process (state ${before.state}): a snapshot loads only into a new firecracker --api-sock process`);
    const body = {
      snapshot_path: file(files, "vmstate"),
      mem_backend: { backend_type: "File", backend_path: file(files, "memory") },
      resume_vm: true,
    };
    await this.api.call("PUT", "/snapshot/load", body, { timeoutMs: opts.timeoutMs });
    const after = await this.api.instance();
    if (after.state !== "Running") throw new VmmError("E_VMM_STATE", `Firecracker PUT /snapshot/load with resume_vm: the VM is ${after.state}, not Running`);
    return `PUT /snapshot/load with resume_vm: state ${after.state}`;
  }

  async recover(): Promise<string> {
    const i = await this.api.instance();
    if (i.state !== "Paused") return `the VM was ${i.state}`;
    await this.api.call("PATCH", "/vm", { state: "Resumed" });
    return "PATCH /vm Resumed (was Paused)";
  }

  async close(): Promise<void> {}
}
