/**
 * A sliding-window log: every amount counted in the last `windowMs`, oldest first, and their sum. Exact (at
 * most the limit in any window of that length, unlike fixed windows that allow twice the limit across a
 * boundary, or GCRA whose burst allowance lets a full burst follow a steady minute). Entries live in a ring
 * of two Float64Arrays (16 bytes an entry, no object per request), grown and shrunk with the traffic seen
 * in one window, never sized by the limit. An entry's amount may be corrected later through the sequence
 * number `add` returned (a request's prompt estimate becomes its real prompt plus completion); a correction
 * after the entry left the window changes nothing.
 */
const MIN_CAPACITY = 16;

export class SlidingWindow {
  readonly windowMs: number;
  #at = new Float64Array(MIN_CAPACITY);
  #amount = new Float64Array(MIN_CAPACITY);
  /** Ring index of the oldest entry. */
  #start = 0;
  #size = 0;
  /** Sequence number of the oldest entry. */
  #first = 0;
  #sum = 0;

  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  /** Drops what left the window by `now`. */
  prune(now: number): void {
    const cutoff = now - this.windowMs;
    const capacity = this.#at.length;
    while (this.#size > 0 && this.#at[this.#start]! <= cutoff) {
      this.#sum -= this.#amount[this.#start]!;
      this.#start = (this.#start + 1) % capacity;
      this.#size--;
      this.#first++;
    }
    if (this.#size === 0) this.#sum = 0; // no drift from corrections
    if (capacity > MIN_CAPACITY && this.#size * 4 < capacity) this.#resize(capacity / 2);
  }

  /** Entries in the window (call prune first). */
  get count(): number {
    return this.#size;
  }

  /** Sum of the amounts in the window (call prune first). */
  get sum(): number {
    return this.#sum;
  }

  get empty(): boolean {
    return this.#size === 0;
  }

  /** Counts an amount at `at` (not before the newest entry); returns its sequence number for `correct`. */
  add(at: number, amount: number): number {
    if (this.#size === this.#at.length) this.#resize(this.#at.length * 2);
    const index = (this.#start + this.#size) % this.#at.length;
    this.#at[index] = at;
    this.#amount[index] = amount;
    this.#size++;
    this.#sum += amount;
    return this.#first + this.#size - 1;
  }

  /** Replaces the amount of entry `seq`, if it is still in the window. */
  correct(seq: number, amount: number): void {
    if (seq < this.#first || seq >= this.#first + this.#size) return;
    const index = (this.#start + (seq - this.#first)) % this.#at.length;
    this.#sum += amount - this.#amount[index]!;
    this.#amount[index] = amount;
  }

  /** ms from `now` until the oldest entry leaves (0 when empty). */
  untilOldestLeaves(now: number): number {
    return this.#size === 0 ? 0 : Math.max(0, this.#at[this.#start]! + this.windowMs - now);
  }

  /** ms from `now` until the sum has dropped to `target` or below, as entries leave. */
  untilSumAtMost(target: number, now: number): number {
    let sum = this.#sum;
    const capacity = this.#at.length;
    for (let i = 0; i < this.#size && sum > target; i++) {
      const index = (this.#start + i) % capacity;
      sum -= this.#amount[index]!;
      if (sum <= target) return Math.max(0, this.#at[index]! + this.windowMs - now);
    }
    return 0;
  }

  #resize(capacity: number): void {
    const at = new Float64Array(capacity);
    const amount = new Float64Array(capacity);
    const old = this.#at.length;
    for (let i = 0; i < this.#size; i++) {
      const index = (this.#start + i) % old;
      at[i] = this.#at[index]!;
      amount[i] = this.#amount[index]!;
    }
    this.#at = at;
    this.#amount = amount;
    this.#start = 0;
  }
}
