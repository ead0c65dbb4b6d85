// The Firecracker API client: HTTP/1.1 with JSON bodies on its unix socket (--api-sock), with deadlines and a body cap.

import { printable } from "../printable.ts";
import { connectError, VmmError } from "./errors.ts";

/** `GET /`: the instance, with its state. */
export interface InstanceInfo {
  app_name: string;
  id: string;
  state: "Not started" | "Running" | "Paused";
  vmm_version: string;
}

const STATES = new Set(["Not started", "Running", "Paused"]);

export interface FirecrackerApiOptions {
  /** Deadline of one call in ms, the body included (default 5000). */
  timeoutMs?: number;
  /** Largest answer body read (default 1 MiB); Firecracker's are a few hundred bytes. */
  maxBodyBytes?: number;
}

/**
 * Firecracker's API on its unix socket. Success is a 2xx (204 without a body for actions); a failure
 * is a 4xx/5xx with `{"fault_message": "..."}`, thrown as E_VMM_REFUSED with the status and the message.
 * @example
 * const api = new FirecrackerApi("/run/vm1/api.sock");
 * await api.call("PATCH", "/vm", { state: "Paused" });
 * const { state } = await api.instance();
 */
export class FirecrackerApi {
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;

  constructor(
    readonly socket: string,
    opts: FirecrackerApiOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.maxBodyBytes = opts.maxBodyBytes ?? 1024 * 1024;
  }

  /**
   * One request; resolves with the status and the parsed JSON body (null when empty) of a 2xx answer.
   * Rejects with a VmmError naming `METHOD PATH`: E_VMM_REFUSED (4xx/5xx, with fault_message),
   * E_VMM_UNREACHABLE, E_VMM_TIMEOUT, E_VMM_PROTOCOL (not JSON, too big).
   */
  async call(method: "GET" | "PUT" | "PATCH", path: string, body?: unknown, opts: { timeoutMs?: number } = {}): Promise<{ status: number; body: unknown }> {
    const what = `Firecracker ${method} ${path}`;
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    try {
      let res: Response;
      try {
        res = await fetch(`http://localhost${path}`, {
          unix: this.socket,
          method,
          signal: ac.signal,
          headers: body === undefined ? { accept: "application/json" } : { accept: "application/json", "content-type": "application/json" },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        } as RequestInit);
      } catch (e) {
        if (ac.signal.aborted) throw new VmmError("E_VMM_TIMEOUT", `${what}: no answer within ${timeoutMs} ms`);
        const err = e as NodeJS.ErrnoException;
        if (err.code && /^E[A-Z]+$/.test(err.code) && err.code !== "ECONNRESET") throw connectError(what, this.socket, err);
        throw new VmmError("E_VMM_CLOSED", `${what}: the connection failed: ${printable(err.message ?? String(e))}`);
      }
      const text = await this.readBody(res, what, ac.signal, timeoutMs);
      let parsed: unknown = null;
      if (text.trim() !== "") {
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new VmmError("E_VMM_PROTOCOL", `${what}: ${res.status}, and the body is not JSON: ${printable(text, 120)}`);
        }
      }
      if (res.status >= 200 && res.status < 300) return { status: res.status, body: parsed };
      const fault = (parsed as { fault_message?: unknown } | null)?.fault_message;
      const reason = typeof fault === "string" ? fault : text ? `(no fault_message) ${text}` : "(no body)";
      throw new VmmError("E_VMM_REFUSED", `${what}: ${res.status}: ${printable(reason)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The body as text, at most maxBodyBytes, within the call's deadline. */
  private async readBody(res: Response, what: string, signal: AbortSignal, timeoutMs: number): Promise<string> {
    if (!res.body) return "";
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    const onAbort = () => void reader.cancel().catch(() => {});
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        let r: Awaited<ReturnType<typeof reader.read>>;
        try {
          r = await reader.read();
        } catch (e) {
          if (signal.aborted) throw new VmmError("E_VMM_TIMEOUT", `${what}: the answer's body did not end within ${timeoutMs} ms`);
          throw new VmmError("E_VMM_CLOSED", `${what}: the connection broke in the answer: ${printable((e as Error).message)}`);
        }
        if (r.done) break;
        if (signal.aborted) throw new VmmError("E_VMM_TIMEOUT", `${what}: the answer's body did not end within ${timeoutMs} ms`);
        size += r.value.byteLength;
        if (size > this.maxBodyBytes) {
          void reader.cancel().catch(() => {});
          throw new VmmError("E_VMM_PROTOCOL", `${what}: an answer of over ${this.maxBodyBytes} bytes: not Firecracker`);
        }
        chunks.push(r.value);
      }
      if (signal.aborted) throw new VmmError("E_VMM_TIMEOUT", `${what}: the answer's body did not end within ${timeoutMs} ms`);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    return Buffer.concat(chunks).toString("utf8");
  }

  /** `GET /`, checked: the state must be one Firecracker gives. */
  async instance(): Promise<InstanceInfo> {
    const { body } = await this.call("GET", "/");
    const b = body as Partial<InstanceInfo> | null;
    if (!b || typeof b.state !== "string" || !STATES.has(b.state))
      throw new VmmError("E_VMM_PROTOCOL", `Firecracker GET /: not an instance description: ${printable(JSON.stringify(body), 120)}`);
    return { app_name: String(b.app_name ?? ""), id: String(b.id ?? ""), state: b.state, vmm_version: String(b.vmm_version ?? "") };
  }

  /** `GET /version`: `1.10.1`. */
  async version(): Promise<string> {
    const { body } = await this.call("GET", "/version");
    const v = (body as { firecracker_version?: unknown } | null)?.firecracker_version;
    if (typeof v !== "string") throw new VmmError("E_VMM_PROTOCOL", `Firecracker GET /version: no firecracker_version: ${printable(JSON.stringify(body), 120)}`);
    return printable(v, 64);
  }
}
