// One AgentClient per VM for the bridge: connections reused across requests, replaced when an address changes.

import { AgentClient } from "../client/agent-client.ts";
import type { VmCall } from "../client/overview.ts";
import type { VmEntry } from "../client/vm-list.ts";

export interface ClientPool {
  call: VmCall;
  /** Clients open now (one per VM that was called). */
  size(): number;
  /** Close every client (pending calls reject E_CLIENT_CLOSED). */
  close(): Promise<void>;
}

/**
 * @example
 * const pool = clientPool();
 * const bridge = createBridge({ vms: () => list, call: pool.call });
 * // ... on stop:
 * await pool.close();
 */
export function clientPool(): ClientPool {
  const clients = new Map<string, { address: string; client: AgentClient }>();
  const get = (vm: VmEntry): AgentClient => {
    const had = clients.get(vm.name);
    if (had && had.address === vm.agent) return had.client;
    if (had) void had.client.close();
    const client = new AgentClient(vm.agent);
    clients.set(vm.name, { address: vm.agent, client });
    return client;
  };
  return {
    call: async (vm, type, params, opts) => {
      if (!opts.signal) return get(vm).call(type, params, opts);
      // A call the HTTP client may abandon (an event stream) gets its own connection, closed on abort:
      // the agent sees the disconnect and stops the work (exec kills the command's process group).
      const own = new AgentClient(vm.agent);
      const drop = () => void own.close();
      opts.signal.addEventListener("abort", drop, { once: true });
      try {
        return await own.call(type, params, opts);
      } finally {
        opts.signal.removeEventListener("abort", drop);
        await own.close();
      }
    },
    size: () => clients.size,
    async close() {
      const all = [...clients.values()];
      clients.clear();
      await Promise.all(all.map((c) => c.client.close()));
    },
  };
}
