// ClientError: the one error class of the host client, with the catalog of client-side codes.

/**
 * Codes the client itself raises (agent codes such as `E_INVALID_PARAMS` pass through unchanged).
 * Each sentence is documented in docs/client.md.
 */
export const CLIENT_ERROR_CODES = {
  E_BAD_ADDRESS: "The agent address cannot be parsed (expected firecracker:, unix:, unix+connect:, vsock: or qemu-serial:).",
  E_SOCKET_MISSING: "No file exists at the socket path: the VM (or the agent in Docker mode) is not running, or the path is wrong.",
  E_NOT_A_SOCKET: "Something exists at the socket path but it is not a unix socket.",
  E_CONNECTION_REFUSED: "The socket file exists but nothing accepts connections on it (a stale socket left by a stopped VM).",
  E_PERMISSION_DENIED: "The socket exists but this user may not connect to it (run as the VM's owner or root).",
  E_VSOCK: "An AF_VSOCK connect failed; the message carries the errno and its likely cause.",
  E_HANDSHAKE: "The CONNECT handshake was refused or answered with something other than `OK <n>`, or the serial SYNC line never came back.",
  E_CLIENT_TIMEOUT: "No answer within the call's timeout (connecting and the handshake count toward it).",
  E_CONNECTION_CLOSED: "The connection closed (or failed) before the answer came; the request may or may not have run.",
  E_PROTOCOL: "The agent sent something that is not a valid frame or answer.",
  E_REQUEST_TOO_LARGE: "The request's frame is over the client's frame cap; nothing was sent.",
  E_ABORTED: "The caller aborted the call through its AbortSignal.",
  E_CLIENT_CLOSED: "The client was closed while the call was pending, or a call was made after close().",
} as const;

export type ClientErrorCode = keyof typeof CLIENT_ERROR_CODES;

/**
 * A failed call: `code` is a client code from CLIENT_ERROR_CODES or the agent's own wire code
 * (`E_INVALID_PARAMS`, `E_BUSY`, ...), `data` the agent's error data when it sent some.
 * @example
 * try { await client.call("health-check", { name: "db" }); }
 * catch (e) { if (e instanceof ClientError && e.code === "E_NOT_FOUND") console.error(e.message); }
 */
export class ClientError extends Error {
  constructor(
    readonly code: ClientErrorCode | (string & {}),
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = "ClientError";
  }

  /** True when the code came from the agent (an answer with `ok: false`), not from the client. */
  get fromAgent(): boolean {
    return !Object.hasOwn(CLIENT_ERROR_CODES, this.code);
  }

  toJSON(): { code: string; message: string; data?: unknown } {
    return this.data === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, data: this.data };
  }
}

/** True when the error means the agent could not be reached at all (as opposed to an answer or a timeout). */
export function isUnreachable(e: unknown): boolean {
  if (!(e instanceof ClientError)) return false;
  return ["E_BAD_ADDRESS", "E_SOCKET_MISSING", "E_NOT_A_SOCKET", "E_CONNECTION_REFUSED", "E_PERMISSION_DENIED", "E_VSOCK", "E_HANDSHAKE"].includes(e.code);
}
