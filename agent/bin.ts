#!/usr/bin/env bun
// Entry point of the agent binary (and of `bun agent/bin.ts` from source).

import { builtinModules, BUILD } from "../plugins/index.ts";
import { runFromProcess } from "./main.ts";

await runFromProcess(builtinModules(), BUILD);
