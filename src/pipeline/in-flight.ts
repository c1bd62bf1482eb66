/**
 * Requests and streams in flight per provider key, on this gateway: counted from the attempt that takes a key
 * until its upstream answer is over (a completion's body read, a stream's last frame or its abandonment). A
 * channel credential is revoked only once idle here (channels/service.ts), and the admin API and page show the
 * count beside each credential. Keys are ids (`<channel>#<credential>`), never secrets.
 */
export class KeysInFlight {
  readonly #counts = new Map<string, number>();

  /** Counts one use of `keyId`; the function returned ends it (calling it again does nothing). */
  begin(keyId: string): () => void {
    this.#counts.set(keyId, (this.#counts.get(keyId) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.#counts.get(keyId) ?? 1) - 1;
      if (left > 0) this.#counts.set(keyId, left);
      else this.#counts.delete(keyId);
    };
  }

  count(keyId: string): number {
    return this.#counts.get(keyId) ?? 0;
  }
}
