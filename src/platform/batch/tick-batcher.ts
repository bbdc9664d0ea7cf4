/**
 * Coalesces calls made in the same turn of the event loop into one call of `run` (the
 * DataLoader pattern, without its cache): every `add(item)` before the flush joins the batch,
 * and the flush happens on `setImmediate`, after the I/O callbacks of this turn, so a
 * burst of jobs that arrived in one socket read shares one database round trip.
 *
 * `run` gets the items in the order they were added and resolves one result per item, in
 * that order; if it rejects, every call of the batch rejects with its error (each caller
 * retries as it would have alone). Batches are capped at `maxBatch`; more items wait for
 * the next flush, so one statement never grows without bound.
 *
 * Written here rather than taken from `dataloader`: that library adds a per-key cache we
 * must not have (a completion recorded by another process must be seen at once) and is
 * built around keys, where a write batch has items.
 */
export class TickBatcher<T, R> {
  private pending: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly run: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 500,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.pending.splice(0, this.maxBatch);
    this.scheduled = false;
    if (this.pending.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    if (batch.length === 0) return;
    let results: Promise<R[]>;
    try {
      results = this.run(batch.map((b) => b.item));
    } catch (err) {
      results = Promise.reject(err);
    }
    results.then(
      (rs) => {
        if (rs.length !== batch.length) throw new Error(`TickBatcher: ${rs.length} results for ${batch.length} items`);
        batch.forEach((b, i) => b.resolve(rs[i]!));
      },
    ).catch((err: unknown) => batch.forEach((b) => b.reject(err)));
  }
}
