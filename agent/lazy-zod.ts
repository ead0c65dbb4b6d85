// zod on first use: the agent reads its files only at boot and on reload, so zod (its module and every
// schema built with it) is evaluated the first time a file is checked, not at start. Measured on the
// compiled prod binary, idle with an empty config dir: anonymous memory 9.93 -> 9.13 MB (bench:footprint).

/** zod's builders the agent uses (agent/zod-module.ts), by their `z.` names. */
export type Z = typeof import("./zod-module.ts").z;

let loaded: Z | undefined;

/**
 * zod's `z`, loaded on the first call. A bundled `require` is evaluated when first called, where a static
 * `import { z } from "zod"` runs zod's whole module at start: keep every value use of zod behind this.
 * @example const s = zod().string().min(1);
 */
export function zod(): Z {
  return (loaded ??= (require("./zod-module.ts") as typeof import("./zod-module.ts")).z);
}

/**
 * A zod schema built on first use: `make` runs (and zod loads) when the schema is first touched — parsed,
 * read (`.shape`), composed or converted with `toJSONSchema`. The value stands for the schema everywhere.
 * @example export const WorkerConfig = lazySchema((z) => z.object({ busy_threshold: z.number().default(0.1) }));
 */
export function lazySchema<T extends object>(make: (z: Z) => T): T {
  let real: T | undefined;
  const get = (): T => (real ??= make(zod()));
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(get(), key),
    set: (_, key, value) => Reflect.set(get(), key, value),
    has: (_, key) => Reflect.has(get(), key),
    ownKeys: () => Reflect.ownKeys(get()),
    getOwnPropertyDescriptor: (_, key) => {
      const d = Reflect.getOwnPropertyDescriptor(get(), key);
      // A proxy may not report a property non-configurable that its (empty) target lacks.
      return d ? { ...d, configurable: true } : undefined;
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(get()),
    defineProperty: (_, key, d) => Reflect.defineProperty(get(), key, d),
    deleteProperty: (_, key) => Reflect.deleteProperty(get(), key),
  });
}
