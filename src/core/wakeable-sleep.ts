/**
 * A pause of a poll loop that can be cut short: `sleep(ms)` resolves after `ms`, or at once when `wake()` is
 * called during it (new work, a stop). A `wake()` while no pause is under way does nothing; loops that must not
 * miss it keep their own flag. Used by the execution worker and the upstream-cancel abandoner.
 */
export class WakeableSleep {
  #wake: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  wake(): void {
    this.#wake?.();
  }
}
