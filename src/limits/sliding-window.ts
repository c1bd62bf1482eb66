/**
 * A sliding-window log: every amount counted in the last `windowMs`, oldest first, and their sum. Exact (at
 * most the limit in any window of that length, unlike fixed windows that allow twice the limit across a
 * boundary, or GCRA whose burst allowance lets a full burst follow a steady minute), and its memory follows
 * the traffic actually seen in one window, not the limit. An entry's amount may be corrected later (a
 * request's prompt estimate becomes its real prompt plus completion); a correction after the entry left the
 * window changes nothing.
 */
export interface WindowEntry {
  readonly at: number;
  amount: number;
  /** Left the window: later corrections are ignored. */
  gone: boolean;
}

export class SlidingWindow {
  readonly windowMs: number;
  #entries: WindowEntry[] = [];
  #head = 0;
  #sum = 0;

  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  /** Drops what left the window by `now`. */
  prune(now: number): void {
    const entries = this.#entries;
    const cutoff = now - this.windowMs;
    let head = this.#head;
    while (head < entries.length && entries[head]!.at <= cutoff) {
      const entry = entries[head]!;
      entry.gone = true;
      this.#sum -= entry.amount;
      head++;
    }
    if (head === entries.length) {
      this.#entries = [];
      this.#head = 0;
      this.#sum = 0;
    } else if (head > 1024 && head * 2 > entries.length) {
      this.#entries = entries.slice(head);
      this.#head = 0;
    } else {
      this.#head = head;
    }
  }

  /** Entries in the window (call prune first). */
  get count(): number {
    return this.#entries.length - this.#head;
  }

  /** Sum of the amounts in the window (call prune first). */
  get sum(): number {
    return this.#sum;
  }

  add(at: number, amount: number): WindowEntry {
    const entry: WindowEntry = { at, amount, gone: false };
    this.#entries.push(entry);
    this.#sum += amount;
    return entry;
  }

  correct(entry: WindowEntry, amount: number): void {
    if (entry.gone) return;
    this.#sum += amount - entry.amount;
    entry.amount = amount;
  }

  /** ms from `now` until the oldest entry leaves (0 when empty). */
  untilOldestLeaves(now: number): number {
    const oldest = this.#entries[this.#head];
    return oldest ? Math.max(0, oldest.at + this.windowMs - now) : 0;
  }

  /** ms from `now` until the sum has dropped to `target` or below, as entries leave. */
  untilSumAtMost(target: number, now: number): number {
    let sum = this.#sum;
    for (let i = this.#head; i < this.#entries.length && sum > target; i++) {
      const entry = this.#entries[i]!;
      sum -= entry.amount;
      if (sum <= target) return Math.max(0, entry.at + this.windowMs - now);
    }
    return 0;
  }

  get empty(): boolean {
    return this.count === 0;
  }
}
