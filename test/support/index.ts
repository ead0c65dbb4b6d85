// Support for cross-process tests (test/, and any suite that runs real agent processes): one module.

export { agentBinaries, BINARY_CACHE, mvmctlBinary, ROOT, type Built } from "./binaries.ts";
export { alive, descendants, fds, groupMembers, idleRssFloor, liveWithMarker, procInfo, processes, rssKb, zombies, type ProcInfo } from "./proc.ts";
export { call, freshPing, request, spawnAgent, waitConnections, type SpawnedAgent, type SpawnOptions } from "./agent.ts";
export { writeFiles, type TestFiles } from "../../agent/testing.ts";
