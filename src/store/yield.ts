/**
 * Lets the event loop run (sockets, timers) between two database statements. With node:sqlite every
 * statement runs synchronously and Kysely chains them through promises (microtasks), so without this a
 * whole batch, or a backlog of batches, would hold the loop in one piece; with it, the longest stall is
 * one bounded statement. On PostgreSQL it costs one tick next to a network round trip.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
