// The byte pipe under a session: what a listener (unix, vsock, serial) hands the agent for each connection.

/** The byte pipe under a session. */
export interface Transport {
  /** Queue bytes; the transport keeps what the kernel does not take yet (see `unsent`). */
  write(bytes: Uint8Array): void;
  /**
   * As `write` for `bytes[0, length)`, valid only during the call (an answer encoded into a reused
   * buffer): the transport copies what the kernel does not take at once. Absent: the session hands
   * `write` bytes of their own.
   */
  writeTransient?(bytes: Uint8Array, length: number): void;
  /** Close after queued bytes are flushed. */
  end(): void;
  /** For console lines: `unix:/run/mvm/agent.sock#3`. */
  readonly label: string;
  /**
   * Bytes written but not yet taken by the kernel. Absent: the transport never queues. A transport that
   * queues calls `Session.onWritable()` when its queue shrinks.
   */
  unsent?(): number;
  /** Stop delivering received bytes (backpressure); `resumeReading` starts again. */
  pauseReading?(): void;
  resumeReading?(): void;
  /** Close now, dropping what is queued (a client that reads nothing). Absent: `end()`. */
  abort?(): void;
}

export type TransportKind = "unix" | "vsock" | "serial";
