/**
 * What every target is sent: byte-identical chat requests (only the Authorization header differs), so the
 * load generator does the same work for direct, floor and gateway. `model: "fast"` is a tier for the
 * gateway; the mock answers any model name, so direct and floor calls are valid too.
 */

/** The mock's reply: 20 content tokens, so a stream has 23 events (role, 20 deltas, finish, usage) plus [DONE]. */
export const BENCH_REPLY =
  'The quick brown fox jumps over the lazy dog while the gateway routes each request to the fast tier today.';

const messages = [
  { role: 'system', content: 'You are a concise assistant.' },
  { role: 'user', content: 'Summarise in one sentence why keep-alive connections matter for an API gateway.' },
];

export const NON_STREAMING_BODY = JSON.stringify({ model: 'fast', messages, max_tokens: 64 });
export const STREAMING_BODY = JSON.stringify({
  model: 'fast',
  messages,
  max_tokens: 64,
  stream: true,
  stream_options: { include_usage: true },
});

/** The same conversation as a Responses API request, for the gateway's `/v1/responses` profile. */
export const RESPONSES_BODY = JSON.stringify({
  model: 'fast',
  instructions: messages[0]!.content,
  input: [{ role: 'user', content: messages[1]!.content }],
  max_output_tokens: 64,
});
export const RESPONSES_STREAMING_BODY = JSON.stringify({ ...JSON.parse(RESPONSES_BODY), stream: true });

/** Sixteen short texts to embed (a typical batch of a retrieval indexer). */
export const EMBEDDINGS_BODY = JSON.stringify({
  model: 'text-embedding-3-small',
  input: Array.from({ length: 16 }, (_, i) => `Chunk ${i} of a document about keep-alive connections and gateways.`),
});
