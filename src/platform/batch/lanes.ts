/**
 * Tasks per key, one after another in the order they were handed in; different keys run
 * independently. A task that fails does not hold up the ones behind it (its caller gets
 * the rejection). The map keeps only keys with a task running or waiting.
 */
export class Lanes {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` once every earlier task of `key` has settled. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const run = prev.then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return run;
  }

  /** Keys with a task running or waiting (for tests). */
  get size(): number {
    return this.tails.size;
  }
}
