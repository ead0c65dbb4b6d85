// zod issues of a host file (vms.json, a snapshot's manifest.json) as one line that names each field, safe for a console.

import type { z } from "zod";
import { printable } from "./printable.ts";

/**
 * The first five issues, `where(path): message`, unknown keys listed (escaped: they come from the file).
 * @example issuesText(r.error.issues, (p) => p.join(".")) // "vms.0.vmm: Unrecognized key: \"api\" (api)"
 */
export function issuesText(issues: readonly z.core.$ZodIssue[], where: (path: PropertyKey[]) => string): string {
  return issues
    .slice(0, 5)
    .map((i) => {
      const keys = i.code === "unrecognized_keys" ? ` (${i.keys.map((k) => printable(k, 40)).join(", ")})` : "";
      return `${printable(where(i.path), 120)}: ${i.message}${keys}`;
    })
    .join("; ");
}
