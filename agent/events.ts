// The event bus between plugins: listeners by event name (typed by AgentEvents), emit waits for all of them.

import type { Logger } from "./log.ts";
import type { AgentEvents } from "./plugin.ts";

type Listener = (payload: unknown) => void | Promise<void>;

/**
 * Events between plugins. A listener that throws is logged and the others still run; `emit`
 * resolves once every listener has finished.
 * @example
 * const bus = new EventBus(log);
 * const off = bus.on("reload", () => reread());
 * await bus.emit("reload", {});
 * off();
 */
export class EventBus {
  private readonly byEvent = new Map<string, Set<Listener>>();

  constructor(private readonly log: Logger) {}

  /** Listen to `event`; returns the disposer. */
  on<K extends keyof AgentEvents>(event: K, fn: (payload: AgentEvents[K]) => void | Promise<void>): () => void {
    let set = this.byEvent.get(event);
    if (!set) this.byEvent.set(event, (set = new Set()));
    const f = fn as Listener;
    set.add(f);
    return () => void set.delete(f);
  }

  /** Tell every listener of `event`, all at once, and wait for them. */
  async emit<K extends keyof AgentEvents>(event: K, payload: AgentEvents[K]): Promise<void> {
    const fns = [...(this.byEvent.get(event) ?? [])];
    await Promise.all(
      fns.map(async (fn) => {
        try {
          await fn(payload);
        } catch (e) {
          this.log.error(`listener of "${event}" failed: ${(e as Error)?.stack ?? e}`);
        }
      }),
    );
  }
}
