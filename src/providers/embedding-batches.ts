/**
 * An embeddings request split into upstream calls within a provider's limit (Gemini: 100 inputs a call,
 * Cohere on Bedrock: 96, Titan: one), a few in flight at once, results in input order. The first failure stops
 * the rest (their shared signal is aborted) and fails the attempt as a whole, which may then fail over.
 */
export async function inBatches<T, R>(
  items: readonly T[],
  options: { size: number; parallel: number; signal: AbortSignal },
  call: (batch: T[], signal: AbortSignal) => Promise<R>,
): Promise<R[]> {
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += options.size) batches.push(items.slice(i, i + options.size));
  const controller = new AbortController();
  const stop = () => controller.abort(options.signal.reason);
  if (options.signal.aborted) stop();
  else options.signal.addEventListener('abort', stop, { once: true });
  const results = new Array<R>(batches.length);
  let next = 0;
  const worker = async () => {
    while (next < batches.length && !controller.signal.aborted) {
      const at = next++;
      results[at] = await call(batches[at]!, controller.signal);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.parallel, batches.length) }, worker));
  } catch (err) {
    controller.abort(err);
    throw err;
  } finally {
    options.signal.removeEventListener('abort', stop);
  }
  return results;
}
