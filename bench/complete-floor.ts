// The process floor of bench:complete: read vms.json, print each name, exit (what `mvmctl __complete vms` must do, and nothing else).

import { readFileSync } from "node:fs";

const { vms } = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as { vms: { name: string }[] };
process.stdout.write(vms.map((v) => `${v.name}\n`).join(""));
