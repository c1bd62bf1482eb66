/**
 * The benchmark's upstream: the protocol-faithful OpenAI mock in its own process, so its CPU never counts
 * against the process being measured. Reports its origin over IPC, then takes one command: `{ pace: ms }`
 * switches between the low-overhead mode (whole bodies in one write, used for non-streaming) and paced
 * streams (one SSE event every `ms` milliseconds, used to measure time to first byte).
 */
import { startMockOpenAI } from '../test/mocks/openai-compatible.ts';
import { BENCH_REPLY } from './lib/request-bodies.ts';

const mock = await startMockOpenAI({ fast: true, reply: BENCH_REPLY });
// In paced mode the mock records each request (that is its test mode); dropping them keeps memory flat.
const forget = setInterval(() => mock.reset(), 500);

process.on('message', (message: { pace?: number }) => {
  if (typeof message.pace !== 'number') return;
  mock.options.fast = message.pace === 0;
  mock.options.chunkDelayMs = message.pace;
  process.send?.({ type: 'paced', pace: message.pace });
});

// The parent going away (normally or not) ends this process.
process.on('disconnect', () => {
  clearInterval(forget);
  mock.close().finally(() => process.exit(0));
});

process.send?.({ type: 'ready', origin: mock.origin });
