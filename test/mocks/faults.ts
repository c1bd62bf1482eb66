/**
 * Fault injection shared by every mock provider. A test queues faults on a mock; each incoming request
 * takes the next one (or none, and is answered normally). The mock decides how a fault looks in its own
 * wire format (error bodies, stream framing).
 */
export type Fault =
  /** Answer with this HTTP status; `body` defaults to the provider's own error body for that status. */
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  /** Wait before sending headers (slow first byte), then answer normally. */
  | { kind: 'delay'; ms: number }
  /** Wait until the test opens the gate (`open` settles), then answer normally (the OpenAI-compatible mock). */
  | { kind: 'gate'; open: Promise<unknown> }
  /** Accept the request and never answer. */
  | { kind: 'hang' }
  /** Destroy the socket without answering. */
  | { kind: 'reset' }
  /** Stream normally for `afterEvents` events, then destroy the socket. */
  | { kind: 'reset-mid-stream'; afterEvents: number }
  /** Stream normally for `afterEvents` events, then send bytes that are not a valid event. */
  | { kind: 'malformed-stream'; afterEvents: number }
  /** Stream `afterEvents` events, then stop sending without closing (a stalled stream). */
  | { kind: 'stall-mid-stream'; afterEvents: number }
  /** 200 with a body that is not the protocol's JSON. */
  | { kind: 'garbage-body' };

export class FaultQueue {
  private readonly queue: Fault[] = [];
  /** Applied to every request when the queue is empty (e.g. a provider that is down for the whole test). */
  sticky: Fault | undefined;

  push(...faults: Fault[]): this {
    this.queue.push(...faults);
    return this;
  }

  next(): Fault | undefined {
    return this.queue.shift() ?? this.sticky;
  }

  clear(): void {
    this.queue.length = 0;
    this.sticky = undefined;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
