// Wire shapes of `fs-diff` (TypeBox, shared with host clients) and the agent.json `fsdiff` section (zod).

import { Type, type Static } from "@sinclair/typebox";
import type { z } from "zod";
import { lazySchema } from "../../agent/lazy-zod.ts";
import type { RequestTable, RequestTypes } from "../../agent/plugin.ts";

/** Largest `limit` a client may ask for; the frame cap usually shrinks pages well before it. */
export const MAX_LIMIT = 100_000;
export const DEFAULT_LIMIT = 10_000;

const Glob = Type.String({ minLength: 1, maxLength: 1024 });

export const FsDiffParams = Type.Object(
  {
    include: Type.Optional(Type.Array(Glob, { maxItems: 64 })),
    exclude: Type.Optional(Type.Array(Glob, { maxItems: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 16384 })),
    /**
     * Count mode: walk the whole upper dir (include and exclude applied) and answer the summary of
     * every change, with no `changes` and no cursor. Not with `limit` or `cursor`.
     */
    summary_only: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type FsDiffParams = Static<typeof FsDiffParams>;

export const ChangeKind = Type.Union([Type.Literal("created"), Type.Literal("modified"), Type.Literal("deleted")]);
export type ChangeKind = Static<typeof ChangeKind>;

export const EntryType = Type.Union([Type.Literal("file"), Type.Literal("dir"), Type.Literal("symlink"), Type.Literal("other")]);
export type EntryType = Static<typeof EntryType>;

export const FsChange = Type.Object(
  {
    path: Type.String(),
    kind: ChangeKind,
    type: EntryType,
    size: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type FsChange = Static<typeof FsChange>;

export const WalkError = Type.Object({ path: Type.String(), message: Type.String() }, { additionalProperties: false });
export type WalkError = Static<typeof WalkError>;

export const FsDiffSummary = Type.Object(
  {
    created: Type.Integer({ minimum: 0 }),
    modified: Type.Integer({ minimum: 0 }),
    deleted: Type.Integer({ minimum: 0 }),
    bytes: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type FsDiffSummary = Static<typeof FsDiffSummary>;

export const FsDiffResult = Type.Object(
  {
    upper_dir: Type.String(),
    lower_known: Type.Boolean(),
    changes: Type.Array(FsChange),
    summary: FsDiffSummary,
    errors: Type.Array(WalkError),
    next_cursor: Type.Union([Type.String(), Type.Null()]),
    /** Count mode only: errors of the walk left out of `errors` (which keeps the first 100). */
    errors_omitted: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type FsDiffResult = Static<typeof FsDiffResult>;

/** The `fsdiff` section of agent.json. */
export const FsDiffSection = lazySchema((z) =>
  z
    .object({
      /** Globs excluded when a request gives no `exclude` of its own, e.g. ["/tmp/**"]. */
      exclude: z.array(z.string().min(1).max(1024)).max(64).default([]),
    })
    .strict(),
);
export type FsDiffSection = z.output<typeof FsDiffSection>;

/** The fsdiff plugin's requests (agent: plugins/fsdiff/index.ts; host: plugins/requests.ts). */
export const fsdiffRequests = {
  "fs-diff": {
    params: FsDiffParams,
    result: FsDiffResult,
    description: "What changed in the overlay upper dir since boot: created, modified and deleted paths, paged.",
    // A walk of a large upper dir has no deadline of its own; pages keep each answer small.
    timeoutSecs: 300,
  },
} satisfies RequestTable;

declare module "../../agent/plugin.ts" {
  interface AgentRequests extends RequestTypes<typeof fsdiffRequests> {}
}
