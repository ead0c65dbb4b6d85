// The bridge's snapshot and restore routes: bodies checked, directories confined under --snapshot-dir, steps streamed as events.

import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { callFailure, decodeQuery, HttpFail, mustMatch, readJsonObject } from "./input.ts";
import { RestoreBody, SnapshotBody, StreamQuery } from "./routes.ts";
import { wantsEventStream } from "./stream.ts";
import type { VmEntry } from "../client/vm-list.ts";
import type { BridgeDeps } from "./types.ts";
import type { AgentCall } from "../client/checked.ts";
import { confineDir, SnapshotDirError } from "../client/snapshot/dir.ts";
import { ManifestError, MANIFEST_FILE } from "../client/snapshot/manifest.ts";
import { restoreSnapshot } from "../client/snapshot/restore.ts";
import { NotReadyError, takeSnapshot } from "../client/snapshot/snapshot.ts";
import { LoopError, type StepEvent } from "../client/snapshot/steps.ts";
import { openVmm } from "../client/vmm/driver.ts";
import { listSnapshots, renderSnapshotPage, SNAPSHOT_JS, SNAPSHOT_PAGE_CSP } from "./dashboard-snapshot.tsx";
import { VmmError } from "../client/vmm/errors.ts";

/** A failed snapshot or restore as HTTP: the step in `data`, the status from what failed. */
function loopFailure(e: LoopError, vm: string): HttpFail {
  const data = { step: e.step, steps: e.steps };
  const cause = e.cause;
  if (cause instanceof VmmError) return new HttpFail(cause.code === "E_VMM_TIMEOUT" ? 504 : 502, cause.code, e.message, data);
  if (cause instanceof NotReadyError) return new HttpFail(409, "E_NOT_READY", e.message, data);
  if (cause instanceof ManifestError) return new HttpFail(422, "E_BAD_SNAPSHOT", e.message, data);
  if (cause instanceof SnapshotDirError) return new HttpFail(409, cause.reason === "exists" ? "E_EXISTS" : "E_BAD_SNAPSHOT_DIR", e.message, data);
  const f = callFailure(cause, vm);
  return new HttpFail(f.status, f.code, e.message, data);
}

/** What the two handlers share: the deps, the VMs being snapshotted or restored now (one operation per VM). */
export function snapshotRoutes(deps: BridgeDeps, vmOf: (c: Context) => VmEntry, version: string, csrf: string) {
  const busy = new Set<string>();
  const now = deps.now ?? Date.now;
  const callMs = deps.callTimeoutMs ?? 5000;

  /**
   * The checks every operation makes before anything starts (400/403/404/409 as plain JSON answers), and
   * the VM claimed for this operation. The claim is taken in the same synchronous step as the check
   * (no await between them), so two requests that both read their bodies can never both pass it; the
   * caller hands `release` to run(), or calls it when it refuses the request itself.
   */
  async function prepare(c: Context, schema: typeof SnapshotBody | typeof RestoreBody, key: "to" | "from") {
    const vm = vmOf(c);
    const q = decodeQuery(StreamQuery, new URL(c.req.url).searchParams);
    mustMatch(StreamQuery, q, "query");
    const body = await readJsonObject(c.req.raw);
    mustMatch(schema, body, "body");
    if (!vm.vmm) throw new HttpFail(404, "E_NOT_FOUND", `VM ${vm.name} has no vmm in vms.json (a qemu qmp socket or a firecracker api socket)`);
    if (!deps.snapshotRoot) throw new HttpFail(403, "E_FORBIDDEN", "snapshots through the bridge are off: start it with --snapshot-dir ROOT (directories are then named relative to ROOT)");
    let dir: string;
    try {
      dir = confineDir(deps.snapshotRoot, body[key] as string);
    } catch (e) {
      if (e instanceof SnapshotDirError) throw new HttpFail(400, "E_INVALID_PARAMS", `body /${key}: ${e.message}`, [{ path: `/${key}`, message: e.message }]);
      throw e;
    }
    if (busy.has(vm.name)) throw new HttpFail(409, "E_BUSY", `${vm.name}: a snapshot or restore of this VM is already running`);
    busy.add(vm.name);
    let held = true;
    const release = () => {
      if (held) busy.delete(vm.name);
      held = false;
    };
    const agent: AgentCall = (type, params, o) => deps.call(vm, type, params, { timeoutMs: o.timeoutMs });
    return { vm, vmm: vm.vmm, body, dir, agent, stream: q.stream === true || wantsEventStream(c), release };
  }

  /**
   * Run one operation for a VM: as events (`step` per step start and end, then `result` or `error`), or as
   * one JSON answer. It runs to its end even when the HTTP client goes away: a snapshot stopped half-way
   * would leave the VM paused. `release` (from prepare) frees the VM once the operation has ended.
   */
  function run<T>(c: Context, vm: string, stream: boolean, release: () => void, loop: (onStep: (e: StepEvent) => void) => Promise<T>): Response | Promise<Response> {
    // A throw before the loop's first await (opening the VMM driver) is a rejection too: release runs.
    const op = async (onStep: (e: StepEvent) => void) => loop(onStep);
    if (!stream) {
      return op(() => {})
        .then((r) => c.json(r as object))
        .catch((e) => {
          throw e instanceof LoopError ? loopFailure(e, vm) : e;
        })
        .finally(release);
    }
    const events: { event: string; data: unknown }[] = [];
    let wake: (() => void) | null = null;
    const push = (event: string, data: unknown) => {
      events.push({ event, data });
      wake?.();
    };
    let finished = false;
    void op((e) => push("step", e))
      .then(
        (r) => push("result", r),
        (e) => {
          const f = e instanceof LoopError ? loopFailure(e, vm) : new HttpFail(500, "E_INTERNAL", "internal error in the bridge (see its console)");
          if (!(e instanceof LoopError)) deps.log?.error(`bridge: ${vm}: ${(e as Error)?.stack ?? e}`);
          push("error", { ...f.body(), status: f.status });
        },
      )
      .finally(() => {
        release();
        finished = true;
        wake?.();
      });
    return streamSSE(c, async (s) => {
      for (let i = 0; ; i++) {
        while (i >= events.length && !finished) await new Promise<void>((r) => (wake = r));
        if (i >= events.length) return;
        if (s.aborted) continue; // the client left; the operation goes on
        const e = events[i]!;
        await s.writeSSE({ event: e.event, data: JSON.stringify(e.data) }).catch(() => {});
      }
    });
  }

  return {
    /** The dashboard's page for one VM (404 without a vmm, 403 when snapshots are off). */
    page(c: Context): Response {
      const vm = vmOf(c);
      if (!vm.vmm) throw new HttpFail(404, "E_NOT_FOUND", `VM ${vm.name} has no vmm in vms.json`);
      if (!deps.snapshotRoot) return c.html("<!doctype html><title>mvm bridge</title><p>Snapshots through the bridge are off: start it with <code>--snapshot-dir ROOT</code>.</p>", 403);
      const stamp = new Date(now()).toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
      const vmm = vm.vmm.kind === "qemu" ? `qemu qmp:${vm.vmm.qmp}` : `firecracker api:${vm.vmm.api}`;
      c.header("Content-Security-Policy", SNAPSHOT_PAGE_CSP);
      c.header("Cache-Control", "no-store");
      return c.html(renderSnapshotPage({ vm: vm.name, vmm, snapshots: listSnapshots(deps.snapshotRoot), suggested: `${vm.name}/${stamp}`, version, csrf }));
    },
    script(c: Context): Response {
      return c.body(SNAPSHOT_JS, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache" });
    },
    async snapshot(c: Context): Promise<Response> {
      const { vm, vmm, body, dir, agent, stream, release } = await prepare(c, SnapshotBody, "to");
      try {
        if (body.resume === true && body.stop === true) throw new HttpFail(400, "E_INVALID_PARAMS", "body: resume and stop exclude each other", [{ path: "/stop", message: "resume and stop exclude each other" }]);
        if (!body.overwrite && existsSync(join(dir, MANIFEST_FILE)))
          throw new HttpFail(409, "E_EXISTS", `${vm.name}: ${body.to} already holds a snapshot; name another directory, or send "overwrite": true`);
      } catch (e) {
        release();
        throw e;
      }
      return run(c, vm.name, stream, release, (onStep) =>
        takeSnapshot({
          vm: vm.name,
          vmm: openVmm(vmm!, { callTimeoutMs: callMs }),
          agent,
          dir,
          then: body.stop === true ? "stop" : "resume",
          overwrite: body.overwrite === true,
          ...(typeof body.drain_timeout_secs === "number" ? { drainTimeoutSecs: body.drain_timeout_secs } : {}),
          callTimeoutMs: callMs,
          now,
          onStep,
        }),
      );
    },
    async restore(c: Context): Promise<Response> {
      const { vm, vmm, body, dir, agent, stream, release } = await prepare(c, RestoreBody, "from");
      return run(c, vm.name, stream, release, (onStep) =>
        restoreSnapshot({ vm: vm.name, vmm: openVmm(vmm!, { callTimeoutMs: callMs }), agent, dir, allowOtherVm: body.other_vm === true, callTimeoutMs: callMs, now, onStep }),
      );
    },
  };
}
