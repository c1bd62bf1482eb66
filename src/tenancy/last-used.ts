/**
 * Managed keys' last use, collected in memory and written in batches (every flush interval and at
 * shutdown), never per request. A crash loses at most one interval of "last used" times.
 */
export class LastUsed {
  #pending = new Map<string, number>();

  mark(keyId: string, at: number): void {
    this.#pending.set(keyId, at);
  }

  /** Hands over what accumulated; on a failed write, `restore` puts it back. */
  take(): Map<string, number> {
    const out = this.#pending;
    this.#pending = new Map();
    return out;
  }

  restore(batch: ReadonlyMap<string, number>): void {
    for (const [id, at] of batch) {
      const newer = this.#pending.get(id);
      if (newer === undefined || newer < at) this.#pending.set(id, at);
    }
  }
}
