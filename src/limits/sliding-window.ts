/**
 * A sliding window over the last `windowMs`: what was counted, in buckets of `bucketMs` (100 ms), oldest
 * first, and their sum. A bucket is stamped with its end, so everything counted in it stays in the window
 * until `end + windowMs`, never less than 60 s after it was counted: the window can only hold an amount up to
 * one bucket longer than a per-request log would, never shorter. So a limit is never exceeded in any window
 * of `windowMs`, unlike fixed windows (twice the limit across a boundary) or GCRA with a full-window burst
 * (a full burst right after a steady minute); the price is a wait up to one bucket longer at the limit.
 * Memory is at most `windowMs / bucketMs + 1` buckets (601, about 10 KB) whatever the traffic, in a ring of
 * two Float64Arrays that grows and shrinks with use. An amount may be corrected later through the bucket
 * number `add` returned (a request's prompt estimate becomes its real prompt plus completion); a correction
 * after its bucket left the window changes nothing.
 */
const MIN_CAPACITY = 8;

export class SlidingWindow {
  readonly windowMs: number;
  readonly bucketMs: number;
  #end = new Float64Array(MIN_CAPACITY);
  #amount = new Float64Array(MIN_CAPACITY);
  /** Ring index of the oldest bucket. */
  #start = 0;
  #size = 0;
  /** Number of the oldest bucket (numbers only grow). */
  #first = 0;
  #sum = 0;

  constructor(windowMs: number, bucketMs = 100) {
    this.windowMs = windowMs;
    this.bucketMs = bucketMs;
  }

  /** Drops the buckets that left the window by `now`. */
  prune(now: number): void {
    const cutoff = now - this.windowMs;
    const capacity = this.#end.length;
    while (this.#size > 0 && this.#end[this.#start]! <= cutoff) {
      this.#sum -= this.#amount[this.#start]!;
      this.#start = (this.#start + 1) % capacity;
      this.#size--;
      this.#first++;
    }
    if (this.#size === 0) this.#sum = 0; // no drift from corrections
    if (capacity > MIN_CAPACITY && this.#size * 4 < capacity) this.#resize(capacity / 2);
  }

  /** Sum of the amounts in the window (call prune first). */
  get sum(): number {
    return this.#sum;
  }

  get empty(): boolean {
    return this.#size === 0;
  }

  /** Buckets held (memory: 16 bytes each). */
  get buckets(): number {
    return this.#size;
  }

  /** Counts an amount at `at`; returns its bucket's number for `correct`. */
  add(at: number, amount: number): number {
    const end = Math.ceil(at / this.bucketMs) * this.bucketMs;
    const newest = this.#size === 0 ? -1 : (this.#start + this.#size - 1) % this.#end.length;
    this.#sum += amount;
    // Same bucket, or a clock that stepped back: into the newest bucket (it leaves no earlier).
    if (newest >= 0 && end <= this.#end[newest]!) {
      this.#amount[newest]! += amount;
      return this.#first + this.#size - 1;
    }
    if (this.#size === this.#end.length) this.#resize(this.#end.length * 2);
    const index = (this.#start + this.#size) % this.#end.length;
    this.#end[index] = end;
    this.#amount[index] = amount;
    this.#size++;
    return this.#first + this.#size - 1;
  }

  /** Changes an amount counted in bucket `bucket` by `delta`, if the bucket is still in the window. */
  correct(bucket: number, delta: number): void {
    if (bucket < this.#first || bucket >= this.#first + this.#size) return;
    const index = (this.#start + (bucket - this.#first)) % this.#end.length;
    this.#amount[index]! += delta;
    this.#sum += delta;
  }

  /** ms from `now` until the oldest bucket leaves (0 when empty). */
  untilOldestLeaves(now: number): number {
    return this.#size === 0 ? 0 : Math.max(0, this.#end[this.#start]! + this.windowMs - now);
  }

  /** ms from `now` until the sum has dropped to `target` or below, as buckets leave. */
  untilSumAtMost(target: number, now: number): number {
    let sum = this.#sum;
    const capacity = this.#end.length;
    for (let i = 0; i < this.#size && sum > target; i++) {
      const index = (this.#start + i) % capacity;
      sum -= this.#amount[index]!;
      if (sum <= target) return Math.max(0, this.#end[index]! + this.windowMs - now);
    }
    return 0;
  }

  #resize(capacity: number): void {
    const end = new Float64Array(capacity);
    const amount = new Float64Array(capacity);
    const old = this.#end.length;
    for (let i = 0; i < this.#size; i++) {
      const index = (this.#start + i) % old;
      end[i] = this.#end[index]!;
      amount[i] = this.#amount[index]!;
    }
    this.#end = end;
    this.#amount = amount;
    this.#start = 0;
  }
}
