// The part of zod the agent's file schemas use, imported as an ES module so that the bundle keeps only it.
// agent/lazy-zod.ts requires this file on first use (a bundle evaluates it then). Requiring "zod" itself
// would bundle zod's CommonJS build with every locale (bundle 549 -> 1125 KB), and re-exporting its whole
// `z` namespace keeps all of it too (1006 KB): name each builder here instead.

import { array, boolean, enum as enum_, never, number, object, record, string, toJSONSchema, unknown } from "zod";

/** What `zod()` gives: zod's builders the agent uses, by their `z.` names. Add one here before using it. */
export const z = { array, boolean, enum: enum_, never, number, object, record, string, toJSONSchema, unknown };
