// ProtocolHello: the version range overlap of the original ([1, 1]) and the capabilities granted.

import type { Static } from "@sinclair/typebox";
import type { VerbDeps } from "./context.ts";
import { oneLine } from "./text.ts";
import {
  MVM_MIN_PROTOCOL_VERSION,
  MVM_PROTOCOL_VERSION,
  MVM_SUPPORTED_CAPABILITIES,
  type ProtocolHelloAck,
  type ProtocolHelloPayload,
  type ProtocolMismatch,
} from "./schemas.ts";

/** Connection key holding the outcome of the last hello (`ack` or `mismatch`); counted in the status, never gating a verb. */
export const HELLO_KEY = "mvm.hello";

/**
 * Ack when `[min_supported_version, host_protocol_version]` overlaps `[1, 1]`; capabilities are the
 * requested ones this agent serves, in the order asked. Otherwise ProtocolMismatch with
 * `upgrade_host` when the host's newest version is below 1, else `rebuild_guest`.
 * @example hello(d, { host_protocol_version: 1, min_supported_version: 1, host_version: "0.14.0", requested_capabilities: ["ping"] })
 */
export function hello(d: VerbDeps, p: ProtocolHelloPayload): Static<typeof ProtocolHelloAck> | Static<typeof ProtocolMismatch> {
  const hostMax = p.host_protocol_version;
  const hostMin = p.min_supported_version;
  const overlaps = hostMin <= hostMax && hostMin <= MVM_PROTOCOL_VERSION && hostMax >= MVM_MIN_PROTOCOL_VERSION;
  if (!overlaps) {
    d.conn.set(HELLO_KEY, "mismatch");
    const action = hostMax < MVM_MIN_PROTOCOL_VERSION ? "upgrade_host" : "rebuild_guest";
    const message =
      `host ${oneLine(p.host_version, 64) || "(no version)"} speaks mvm protocol ${hostMin}..${hostMax}; this agent speaks ` +
      `${MVM_MIN_PROTOCOL_VERSION}..${MVM_PROTOCOL_VERSION}: ${action === "upgrade_host" ? "upgrade the host tools" : "rebuild the guest image with a newer agent"}`;
    d.ctx.log.warn(`ProtocolHello: ${message}`);
    return {
      ProtocolMismatch: { host_protocol_version: hostMax, agent_protocol_version: MVM_PROTOCOL_VERSION, required_action: action, message },
    };
  }
  d.conn.set(HELLO_KEY, "ack");
  const capabilities = p.requested_capabilities.filter((c) => MVM_SUPPORTED_CAPABILITIES.includes(c));
  return {
    ProtocolHelloAck: {
      agent_protocol_version: MVM_PROTOCOL_VERSION,
      min_supported_version: MVM_MIN_PROTOCOL_VERSION,
      agent_version: d.ctx.config.version,
      capabilities,
    },
  };
}
