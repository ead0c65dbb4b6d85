// Dialects: another project's wire envelope served on the agent's sockets beside the native one.

import type { PluginContext } from "./plugin.ts";

/**
 * An alternative envelope (another project's wire dialect) served on the same sockets. The core
 * offers each decoded body the native envelope does not accept (a bare string, an object without
 * `type`) to the dialects in order; the first whose `matches` is true answers it.
 */
export interface Dialect {
  name: string;
  /** Cap for answers in this dialect (bytes of JSON). Defaults to the agent's frame cap. */
  maxFrameBytes?: number;
  matches(body: unknown): boolean;
  /**
   * Answer one body. `conn` is a per-connection scratch map (session state such as a hello).
   * Return the bodies to write (a streaming answer may write several), and whether to close after.
   * Called only while the dialect's plugin runs.
   */
  handle(body: unknown, io: DialectIO): Promise<DialectReply>;
  /**
   * The body that answers a frame while the dialect's plugin is not running (before its start,
   * after its stop), given the core's reason. Absent: the connection is closed instead.
   */
  refuse?(message: string): unknown;
}

export interface DialectIO {
  readonly conn: Map<string, unknown>;
  readonly signal: AbortSignal;
  /** The context of the plugin that offers the dialect. */
  readonly plugin: PluginContext;
  /** Send one body now, before the final reply (streams). */
  write(body: unknown): void;
  /** Resolves once the connection can take more (see RequestContext.writable); absent: at once. */
  writable?(): Promise<void>;
}

export interface DialectReply {
  body?: unknown;
  close?: boolean;
}
