// The package's `mvm-guest-agent/client` entry: AgentClient with calls typed from the request registry, its errors,
// agent addresses, and how long a call should wait by its request's declaration.

export {
  AgentClient,
  CLIENT_ERROR_CODES,
  ClientError,
  formatAgentAddress,
  isUnreachable,
  parseAgentAddress,
  type AgentAddress,
  type AgentClientOptions,
  type CallArgs,
  type CallOptions,
  type CallResult,
  type ClientErrorCode,
} from "./agent-client.ts";
export { callDeadlineMs } from "./deadlines.ts";
export type { AgentRequests, ParamsOf, RequestName, ResultOf } from "../../agent/plugin.ts";
export type { DescribeResult, HelloResult, StatusResult } from "../../agent/wire.ts";
