// VmmError: the one error class of the VMM drivers (QMP, Firecracker API), with its code catalog.

/** Every code a VMM driver raises; each sentence is documented in docs/snapshot.md. */
export const VMM_ERROR_CODES = {
  E_VMM_UNREACHABLE: "No socket at the VMM's path, nothing listening on it, or no permission to connect.",
  E_VMM_TIMEOUT: "The VMM did not answer (or an operation it runs did not finish) within the deadline.",
  E_VMM_PROTOCOL: "The VMM answered something that is not its protocol (not QMP JSON lines, not HTTP with a JSON body), or too much of it.",
  E_VMM_CLOSED: "The VMM closed the connection before it answered.",
  E_VMM_REFUSED: "The VMM answered with an error: QMP's error class and description, or Firecracker's status and fault_message.",
  E_VMM_STATE: "The VM is not in the state the step needs: not running for a snapshot, not waiting for state for a restore.",
  E_VMM_FAILED: "An operation the VMM ran failed on its own (a migration that failed or was cancelled).",
} as const;

export type VmmErrorCode = keyof typeof VMM_ERROR_CODES;

/**
 * A failed VMM call. Messages name the VMM and the call (`QMP migrate: ...`,
 * `Firecracker PUT /snapshot/create: 400 ...`); text that came from the VMM is escaped.
 * @example try { await qmp.execute("stop"); } catch (e) { if (e instanceof VmmError && e.code === "E_VMM_TIMEOUT") ... }
 */
export class VmmError extends Error {
  constructor(
    readonly code: VmmErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "VmmError";
  }

  toJSON(): { code: string; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** A socket error from connect(2) as a VmmError that says what to check. */
export function connectError(what: string, path: string, e: NodeJS.ErrnoException): VmmError {
  switch (e.code) {
    case "ENOENT":
      return new VmmError("E_VMM_UNREACHABLE", `${what}: no socket at ${path} (is the VMM running? is the path in vms.json right?)`);
    case "ECONNREFUSED":
      return new VmmError("E_VMM_UNREACHABLE", `${what}: nothing listens on ${path} (a stale socket left by a VMM that exited?)`);
    case "EACCES":
    case "EPERM":
      return new VmmError("E_VMM_UNREACHABLE", `${what}: permission denied on ${path} (run as the VMM's user or a member of its socket's group)`);
    case "ENOTSOCK":
      return new VmmError("E_VMM_UNREACHABLE", `${what}: ${path} is not a socket`);
    default:
      return new VmmError("E_VMM_UNREACHABLE", `${what}: cannot connect to ${path}: ${e.code ?? ""} ${e.message}`.trim());
  }
}
