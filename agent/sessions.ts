// The agent's open connections: the --max-connections limit, the sweeps that close silent, stalled, unread
// and idle ones, backpressure totals, and the drain on stop.

import type { Clock, TimerHandle } from "./clock.ts";
import { throttledLine, type Logger } from "./log.ts";
import type { Router } from "./router.ts";
import { Session, type SessionHost } from "./session.ts";
import type { Transport, TransportKind } from "./transport.ts";

/** What `status` tells of backpressure, over every connection. */
export interface Backpressure {
  backedUp: number;
  unsentBytes: number;
  /** Bytes of requests read but not started (each connection stops being read past MAX_QUEUED_BYTES). */
  queuedBytes: number;
}

export interface SessionTableOptions {
  clock: Clock;
  log: Logger;
  router: Router;
  beginWork: SessionHost["beginWork"];
  maxConnections: number;
  /** --idle-timeout-secs, in ms. */
  idleMs: number;
  /** --frame-timeout-secs, in ms. */
  frameMs: number;
  maxFrameBytes: number;
  vsockPort: number;
  maxConcurrentPerConnection?: number;
}

/**
 * Every open session. One sweep timer (about once a second, only while sessions are open) closes:
 * a connection that sent no whole frame within the frame timeout of connecting; one holding half a
 * frame that long (a serial stream, never closed, drops the half frame instead); one whose client
 * left answers unread for the idle timeout; and one idle that long. Serial streams are told apart by
 * their transport kind and are never closed for silence.
 * @example
 * const sessions = new SessionTable({ clock, log, router, beginWork, maxConnections: 256, idleMs: 300_000, frameMs: 10_000, maxFrameBytes, vsockPort: 52 });
 * const s = sessions.open(transport, "unix"); // null when over --max-connections
 */
export class SessionTable {
  private readonly sessions = new Set<Session>();
  private sweepTimer: TimerHandle | null = null;
  private closed = false;
  private readonly host: SessionHost & { coarseNow: number };
  /** Clients can repeat these at will: one console line a second, with a count. */
  private readonly refusedLine;
  private readonly silentLine;
  private readonly evictedLine;

  constructor(private readonly o: SessionTableOptions) {
    const { clock, log } = o;
    this.host = {
      coarseNow: clock.monotonic(),
      router: o.router,
      log,
      beginWork: o.beginWork,
      onClosed: (s) => void this.sessions.delete(s),
    };
    this.refusedLine = throttledLine(1000, () => clock.monotonic(), (n) =>
      log.warn(`over --max-connections (${o.maxConnections}): refused ${n} connection(s) since the last such line; each was closed at once`),
    );
    this.evictedLine = throttledLine(1000, () => clock.monotonic(), (n) =>
      log.warn(`at --max-connections (${o.maxConnections}): closed ${n} idle connection(s) since the last such line to admit new ones, the longest idle first`),
    );
    this.silentLine = throttledLine(1000, () => clock.monotonic(), (n) =>
      log.warn(`closed ${n} connection(s) that sent no complete frame within --frame-timeout-secs (${o.frameMs / 1000}s) of connecting`),
    );
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * Open a session over a transport. At --max-connections the connection idle the longest is closed to
   * make room (see `Session.evictable`), so connections that asked once and went quiet cannot hold every
   * slot until the idle timeout; null when none can go (every slot busy) or the table is closed.
   */
  open(transport: Transport, kind: TransportKind): Session | null {
    if (this.closed) return null;
    if (this.sessions.size >= this.o.maxConnections) {
      const victim = this.longestIdle();
      if (!victim) {
        this.refusedLine.hit();
        return null;
      }
      this.evictedLine.hit();
      victim.end();
      victim.close();
    }
    if (this.sessions.size === 0) this.host.coarseNow = this.o.clock.monotonic();
    const s = new Session(this.host, transport, {
      kind,
      maxFrameBytes: this.o.maxFrameBytes,
      vsockPort: this.o.vsockPort,
      maxConcurrent: this.o.maxConcurrentPerConnection,
    });
    this.sessions.add(s);
    this.armSweep();
    return s;
  }

  /** The evictable session with the oldest last activity, or null. One pass, only at the cap. */
  private longestIdle(): Session | null {
    let best: Session | null = null;
    for (const s of this.sessions) if (s.evictable && (best === null || s.lastActivity < best.lastActivity)) best = s;
    return best;
  }

  /** Connections over MAX_UNSENT_BYTES of unread output (not being read), the bytes queued on all, and the requests read but not started. */
  backpressure(): Backpressure {
    let backedUp = 0;
    let unsentBytes = 0;
    let queuedBytes = 0;
    for (const s of this.sessions) {
      if (s.isBackedUp) backedUp++;
      unsentBytes += s.transport.unsent?.() ?? 0;
      queuedBytes += s.queuedBytes;
    }
    return { backedUp, unsentBytes, queuedBytes };
  }

  /** Take no more sessions and stop the sweeps (the agent is stopping). */
  close(): void {
    this.closed = true;
    if (this.sweepTimer) this.o.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
  }

  /** Wait for requests in flight on every session, at most `ms`; true when some were still running. */
  async drain(ms: number): Promise<boolean> {
    const drained = Promise.all([...this.sessions].map((s) => s.drain()));
    let t: TimerHandle | undefined;
    const late = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((r) => {
        t = this.o.clock.setTimeout(() => r(true), ms);
      }),
    ]);
    if (t) this.o.clock.clearTimeout(t);
    return late;
  }

  /** Close every session (after the drain). */
  endAll(): void {
    for (const s of [...this.sessions]) {
      s.end();
      s.close();
    }
  }

  private armSweep(): void {
    if (this.sweepTimer || this.closed || this.sessions.size === 0) return;
    const { frameMs, idleMs } = this.o;
    this.sweepTimer = this.o.clock.setTimeout(() => this.sweep(), Math.min(1000, frameMs / 2, idleMs / 2));
  }

  private sweep(): void {
    this.sweepTimer = null;
    const { clock, log, frameMs, idleMs } = this.o;
    const now = clock.monotonic();
    this.host.coarseNow = now;
    this.refusedLine.flush();
    this.evictedLine.flush();
    this.silentLine.flush();
    let silent = 0;
    for (const s of this.sessions) {
      const serial = s.kind === "serial";
      if (!s.framed && !serial && s.partialSince === null && now - s.openedAt > frameMs) {
        // Connected and silent: it would hold a slot until the idle timeout without ever asking anything.
        silent++;
        s.end();
        s.close();
      } else if (s.partialSince !== null && !s.isPaused && now - s.partialSince > frameMs) {
        if (serial) s.resetPartial();
        else {
          log.warn(`${s.transport.label}: half a frame stalled for over ${frameMs / 1000}s; closing`);
          s.end();
          s.close();
        }
      } else if (s.isBackedUp && !serial && now - s.lastProgress > idleMs) {
        // Its client has read nothing for the idle timeout: the answers it left would be held for ever.
        log.warn(`${s.transport.label}: ${s.transport.unsent?.() ?? 0} bytes of answers unread for over ${idleMs / 1000}s; closing`);
        s.abort();
      } else if (!s.busy && now - s.lastActivity > idleMs && !serial) {
        log.info(`${s.transport.label}: idle for over ${idleMs / 1000}s; closing`);
        s.end();
        s.close();
      }
    }
    if (silent) this.silentLine.hit(silent);
    this.armSweep();
  }
}
