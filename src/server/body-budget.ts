import type { FastifyRequest } from 'fastify';

/**
 * Bytes of request bodies in flight for callers nobody has verified yet (requests to pages that authenticate
 * after reading the body, and bring-your-own keys no provider has accepted), all together. Without it, 40
 * connections that each declare 10 MB, send 9 MB and stall hold 360 MB; with it, such callers share
 * `limits.unverifiedBodyBytes` and the rest get 429 until bodies finish or time out (server.requestTimeoutMs).
 * A body sent without Content-Length counts as the largest one allowed.
 */
export class BodyBudget {
  readonly limit: number;
  readonly #largestBody: number;
  #inFlight = 0;

  constructor(limit: number, largestBody: number) {
    this.limit = limit;
    this.#largestBody = largestBody;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Reserves this request's body size until its body has been read or the request is gone; false (nothing
   * reserved) when the budget cannot take it. Requests without a body always pass.
   */
  admit(req: FastifyRequest): boolean {
    const size = bodySize(req, this.#largestBody);
    if (size === 0) return true;
    if (this.#inFlight + size > this.limit) return false;
    this.#inFlight += size;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#inFlight -= size;
    };
    req.raw.once('end', release);
    req.raw.once('close', release);
    return true;
  }
}

/** Declared body size (Content-Length, capped at the largest allowed body), the largest for a chunked body, else 0. */
function bodySize(req: FastifyRequest, largestBody: number): number {
  const length = req.headers['content-length'];
  if (length !== undefined) {
    const n = Number(length);
    return Number.isFinite(n) && n > 0 ? Math.min(n, largestBody) : 0;
  }
  return req.headers['transfer-encoding'] !== undefined ? largestBody : 0;
}
