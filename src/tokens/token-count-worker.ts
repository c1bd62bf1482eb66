/**
 * The worker thread of token-counter.ts. It owns the tokenizer (gpt-tokenizer, o200k_base: ~70 MB the main
 * heap never holds) and counts one job at a time, in pieces (token-pieces.ts) so that no input costs more than
 * linear time, and gives up on a job once its deadline has passed: a job that waited behind others past its
 * deadline is not started, and a long one is abandoned between pieces. Special tokens (`<|endoftext|>`) in the
 * text are counted as the plain text they are (by default gpt-tokenizer throws on them).
 */
import { parentPort } from 'node:worker_threads';
import { countTokens, setMergeCacheSize } from 'gpt-tokenizer';
import type { CountJob, WorkerMessage } from './token-counter.ts';
import { tokenPieces } from './token-pieces.ts';

const PLAIN = { disallowedSpecial: new Set<string>() };
/**
 * gpt-tokenizer remembers the merges of up to 100,000 words; words here are at most a piece long, and such
 * distinct words (a hostile prompt's) would fill that cache with up to ~250 MB. 10,000 keeps the common words.
 */
setMergeCacheSize(10_000);

/** The total of the texts, or null past the deadline (Date.now() is shared by every thread). */
function count(job: CountJob): number | null {
  let total = 0;
  for (const text of job.texts) {
    for (const piece of tokenPieces(text)) {
      if (Date.now() > job.deadline) return null;
      total += countTokens(piece, PLAIN);
    }
  }
  return total;
}

function post(message: WorkerMessage): void {
  parentPort?.postMessage(message);
}

parentPort?.on('message', (job: CountJob) => post({ id: job.id, tokens: count(job) }));
post({ ready: true });
