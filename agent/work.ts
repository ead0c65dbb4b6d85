// Work in flight: units of work (requests marked `work`, plugin work) that make the worker count as busy.

/**
 * A counter of work in flight. `begin` returns the function that ends that unit; calling it twice
 * counts once.
 * @example const done = work.begin("exec"); try { await run(); } finally { done(); }
 */
export class WorkCounter {
  private n = 0;

  get count(): number {
    return this.n;
  }

  readonly begin = (_label: string): (() => void) => {
    this.n++;
    let done = false;
    return () => {
      if (!done) (done = true), this.n--;
    };
  };
}
