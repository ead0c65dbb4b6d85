// The process floor of bench:ls: read vms.json, one status call per VM through AgentClient, all at once, exit.

import { readFileSync } from "node:fs";
import { AgentClient } from "../host/client/agent-client.ts";

const { vms } = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as { vms: { agent: string }[] };
const clients = vms.map((v) => new AgentClient(v.agent));
const answers = await Promise.all(clients.map((c) => c.call("status")));
await Promise.all(clients.map((c) => c.close()));
console.log(JSON.stringify(answers).length);
