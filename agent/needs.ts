// Start order from what plugins declare: `needs` (required, checked at boot) and `after` (order only).

import { RegistrationError } from "./errors.ts";

/** What the order reads of a plugin. */
export interface Ordered {
  readonly name: string;
  readonly needs?: readonly string[];
  readonly after?: readonly string[];
}

/**
 * The plugins in start order: each after everything it needs and, when loaded, everything it
 * starts `after`; otherwise in list order (a stable topological sort). Stop order is the reverse.
 * Throws `E_MISSING_NEED` naming both plugins when a need is not loaded, and `E_NEED_CYCLE` naming
 * the circle when plugins wait for each other.
 * @example startOrder([{ name: "snapshot", needs: ["health"] }, { name: "health" }]).map((p) => p.name) // ["health", "snapshot"]
 */
export function startOrder<P extends Ordered>(plugins: readonly P[]): P[] {
  const byName = new Map(plugins.map((p) => [p.name, p]));
  const loaded = () => [...byName.keys()].join(", ");
  const waitsFor = new Map<string, string[]>();
  for (const p of plugins) {
    for (const n of p.needs ?? [])
      if (!byName.has(n)) throw new RegistrationError("E_MISSING_NEED", `plugin "${p.name}" needs plugin "${n}", which is not loaded (loaded: ${loaded()})`);
    waitsFor.set(p.name, [...new Set([...(p.needs ?? []), ...(p.after ?? []).filter((n) => byName.has(n))])]);
  }
  const out: P[] = [];
  const placed = new Set<string>();
  while (out.length < plugins.length) {
    const next = plugins.find((p) => !placed.has(p.name) && waitsFor.get(p.name)!.every((n) => placed.has(n)));
    if (!next) throw new RegistrationError("E_NEED_CYCLE", `plugins wait for each other in a circle: ${circle(plugins.filter((p) => !placed.has(p.name)), waitsFor)}`);
    out.push(next);
    placed.add(next.name);
  }
  return out;
}

/** `a -> b -> a`: one circle among plugins that cannot be placed (each of them waits for another). */
function circle(left: readonly Ordered[], waitsFor: Map<string, string[]>): string {
  const open = new Set(left.map((p) => p.name));
  const path: string[] = [];
  let at = left[0]!.name;
  while (!path.includes(at)) {
    path.push(at);
    at = waitsFor.get(at)!.find((n) => open.has(n))!;
  }
  return [...path.slice(path.indexOf(at)), at].join(" -> ");
}
