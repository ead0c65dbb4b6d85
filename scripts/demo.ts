// `npm start`: the agent on a local unix socket with the example config (the host bridge joins later).
import { join } from "node:path";
const root = join(import.meta.dir, "..");
const sock = join(root, ".tmp", "agent.sock");
await Bun.$`mkdir -p ${join(root, ".tmp")}`;
const proc = Bun.spawn([process.execPath, join(root, "agent/bin.ts"), "--listen", `unix:${sock}`, "--config-dir", join(root, "examples/etc-mvm")], { stdio: ["inherit", "inherit", "inherit"] });
process.on("SIGINT", () => proc.kill("SIGTERM"));
process.on("SIGTERM", () => proc.kill("SIGTERM"));
process.exit(await proc.exited);
