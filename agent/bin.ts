#!/usr/bin/env bun
// Entry point of the agent from source (`bun agent/bin.ts`, the npm package's bin): the bundled modules, and the
// authoring tools (`plugin new|build`), which compiled binaries leave out (scripts/build.ts has its own entry).

import { authoringModule } from "../plugins/authoring/index.ts";
import { builtinModules, BUILD } from "../plugins/index.ts";
import { runFromProcess } from "./main.ts";

await runFromProcess([...builtinModules(), authoringModule], BUILD);
