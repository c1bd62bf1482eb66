import assert from 'node:assert/strict';
import { on } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { ConfigInput } from '../../src/config/schema.ts';
import { findUsageRecord } from '../../src/store/usage-queries.ts';
import { mockProvider, startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * Issue 16, "one prompt freezes every request": exact token counting used to run a BPE tokenizer on the event
 * loop, at a cost that grows with the square of a run without spaces (250,000 "x" blocked /healthz for 54 s).
 * Every path that counts gets the 250,000-character run of the report and a megabyte of random letters without
 * a space (a new one each time: no piece repeats, so the tokenizer's cache cannot help, and counting it takes
 * about a second even in linear time), while GET /healthz is polled every ~20 ms: every poll must answer
 * within 100 ms of being sent.
 *
 * Runs alone, after the other test files (`npm run test:alone`, `*.alone.ts`): it measures how fast the
 * gateway answers /healthz, which test files running beside it on the same cores would disturb.
 */
const PROMPTS: Array<[string, () => string]> = [
  ['a letter x 250,000', () => run250k()],
  ['1 MB of random letters', () => randomLetters(1_000_000)],
];

/**
 * o200k_base takes a run of "x" or "f" eight letters a token, of the others here four. Each test gets another
 * letter: the tokenizer remembers the words it has merged, and a run it has seen would count at once.
 */
const RUN_LETTERS: Record<string, number> = { x: 8, f: 8, y: 4, k: 4, v: 4, b: 4, h: 4, m: 4 };
const unusedLetters = Object.keys(RUN_LETTERS);
function run250k(): string {
  return unusedLetters.shift()!.repeat(250_000);
}

/** The exact count of a run250k(), undefined for anything else. */
function runTokens(content: string): number | undefined {
  const perToken = content.length === 250_000 ? RUN_LETTERS[content[0]!] : undefined;
  return perToken && content === content[0]!.repeat(250_000) ? 250_000 / perToken : undefined;
}
const POLL_EVERY_MS = 20;
const ANSWER_WITHIN_MS = 100;

let seed = 16;
function randomLetters(length: number): string {
  let state = ++seed;
  const out: string[] = [];
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    out.push(String.fromCharCode(97 + (state % 26)));
  }
  return out.join('');
}

/**
 * The poller runs in its own thread: the gateway shares this test's event loop, so a poller here would stall
 * with it and never see a stall (its timers would just fire late). Each poll is timed from its own send.
 */
const POLLER = `
  const { parentPort, workerData } = require('node:worker_threads');
  let stopping = false;
  let polls = 0;
  const slow = [];
  parentPort.once('message', () => { stopping = true; });
  (async () => {
    // The first fetch of a thread loads its HTTP client: not the gateway's time.
    await (await fetch(workerData.url)).arrayBuffer();
    parentPort.postMessage('ready');
    while (!stopping) {
      const sent = performance.now();
      try {
        const res = await fetch(workerData.url);
        await res.arrayBuffer();
        const took = performance.now() - sent;
        if (res.status !== 200 || took >= workerData.within) slow.push(res.status + ' in ' + took.toFixed(0) + ' ms');
      } catch (err) {
        slow.push(String(err));
      }
      polls++;
      await new Promise((resolve) => setTimeout(resolve, workerData.every));
    }
    parentPort.postMessage({ polls, slow });
  })();
`;

/** Runs `work` while another thread polls /healthz; fails if any poll took ANSWER_WITHIN_MS or longer. */
async function whilePolling<T>(gw: TestGateway, work: () => Promise<T>): Promise<T> {
  const poller = new Worker(POLLER, {
    eval: true,
    workerData: { url: `${gw.url}/healthz`, every: POLL_EVERY_MS, within: ANSWER_WITHIN_MS },
  });
  const messages = on(poller, 'message');
  await messages.next();
  try {
    return await work();
  } finally {
    poller.postMessage('stop');
    const [{ polls, slow }] = (await messages.next()).value as [{ polls: number; slow: string[] }];
    await poller.terminate();
    assert.ok(polls > 0, 'no poll ran');
    assert.deepEqual(slow, [], `/healthz answered slowly ${slow.length} time(s) of ${polls}`);
  }
}

async function record(gw: TestGateway, requestId: string) {
  for (let i = 0; i < 200; i++) {
    await gw.runtime.usage.flush();
    const found = await findUsageRecord(gw.runtime.store.db, requestId);
    if (found) return found;
    await sleep(25);
  }
  throw new Error(`no usage record for ${requestId}`);
}

function countTokens(gw: TestGateway, key: string, content: string): Promise<Response> {
  return fetch(`${gw.url}/v1/messages/count_tokens`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }),
  });
}

/**
 * Two providers on the mock: `openai` with a window no prompt here exceeds even by its byte count (so the router
 * does not count), and `small`, whose window makes the router count every long prompt sent to it.
 */
async function startWith(mock: MockOpenAI, extra: ConfigInput = {}, smallWindow = 4_096): Promise<TestGateway> {
  const large = mockProvider('openai', mock.url, [{ name: 'gpt-4o-mini', qualityRank: 70 }]);
  large.models = large.models?.map((model) => ({ ...model, contextWindow: 2_000_000 }));
  const small = mockProvider('small', mock.url, [{ name: 'gpt-4.1-nano', qualityRank: 60 }]);
  small.models = small.models?.map((model) => ({ ...model, contextWindow: smallWindow, maxOutputTokens: 1_024 }));
  return startGateway({ demo: { enabled: false }, ...extra, providers: [large, small] });
}

describe('long runs without spaces do not freeze the gateway', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;

  before(async () => {
    mock = await startMockOpenAI();
    gw = await startWith(mock);
  });
  after(async () => {
    await gw.close();
    await mock.close();
  });

  for (const [name, make] of PROMPTS) {
    test(`the router's context-window check, ${name}`, async () => {
      const content = make();
      const res = await whilePolling(gw, () =>
        gw.post('/v1/chat/completions', { model: 'small/gpt-4.1-nano', messages: [{ role: 'user', content }] }),
      );
      const body = (await res.json()) as { error?: { code: string; message: string } };
      const tokens = runTokens(content);
      if (tokens) {
        // Counted exactly (plus 7 tokens of framing), within the budget: refused before any upstream call.
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(body.error?.code, 'context_length_exceeded');
        assert.match(body.error?.message ?? '', new RegExp(`about ${tokens + 7} tokens`));
      } else {
        // Counted within the budget (a fast machine): refused; past it, the byte bound proves nothing here, so
        // the upstream judges (the mock accepts anything).
        assert.ok(res.status === 200 || body.error?.code === 'context_length_exceeded', JSON.stringify(body));
      }
    });

    test(`POST /v1/messages/count_tokens with a gateway key, ${name}`, async () => {
      const content = make();
      const res = await whilePolling(gw, () => countTokens(gw, TEST_API_KEY, content));
      const body = (await res.json()) as { input_tokens: number };
      assert.equal(res.status, 200, JSON.stringify(body));
      const tokens = runTokens(content);
      if (tokens) assert.equal(body.input_tokens, tokens + 7);
      // Exact (about 507,000) within the budget, else the estimate of four bytes a token.
      else assert.ok(body.input_tokens > 250_000 && body.input_tokens < 600_000, String(body.input_tokens));
    });

    test(`an upstream answer without usage, carrying ${name}`, async () => {
      const content = make();
      mock.faults.push({
        kind: 'status',
        status: 200,
        body: {
          id: 'chatcmpl-nousage',
          object: 'chat.completion',
          created: 1_700_000_000,
          model: 'gpt-4o-mini',
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        },
      });
      const res = await whilePolling(gw, async () => {
        const res = await gw.post('/v1/chat/completions', {
          model: 'openai/gpt-4o-mini',
          messages: [{ role: 'user', content: 'Say something long.' }],
        });
        await res.arrayBuffer();
        // Metering happens before the answer: the record is queued by the time it arrives.
        await record(gw, res.headers.get('x-request-id')!);
        return res;
      });
      assert.equal(res.status, 200);
      const usage = await record(gw, res.headers.get('x-request-id')!);
      const tokens = runTokens(content);
      if (tokens) assert.equal(usage.outputTokens, tokens);
      else assert.ok(usage.outputTokens >= 250_000 && usage.outputTokens < 600_000, String(usage.outputTokens));
    });

    test(`a stream the client leaves mid-way, having received ${name}`, async () => {
      const content = make();
      mock.options.reply = content;
      // The role chunk and the one chunk with the whole run, then the upstream stalls.
      mock.faults.push({ kind: 'stall-mid-stream', afterEvents: 2 });
      const controller = new AbortController();
      const requestId = await whilePolling(gw, async () => {
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          signal: controller.signal,
          headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'openai/gpt-4o-mini',
            stream: true,
            messages: [{ role: 'user', content: 'Say something long.' }],
          }),
        });
        const requestId = res.headers.get('x-request-id')!;
        let received = 0;
        const decoder = new TextDecoder();
        for await (const chunk of res.body!) {
          received += decoder.decode(chunk, { stream: true }).length;
          if (received > content.length) break;
        }
        controller.abort();
        // The cut stream is metered on what was delivered: the whole run.
        await record(gw, requestId);
        return requestId;
      });
      mock.options.reply = undefined;
      const usage = await record(gw, requestId);
      assert.equal(usage.status, 499);
      const tokens = runTokens(content);
      if (tokens) assert.equal(usage.outputTokens, tokens);
      else assert.ok(usage.outputTokens >= 250_000 && usage.outputTokens < 600_000, String(usage.outputTokens));
    });
  }
});

describe('special tokens in a prompt', () => {
  test('count as the plain text they are (the tokenizer used to throw: a 500)', async () => {
    const mock = await startMockOpenAI();
    const gw = await startWith(mock);
    try {
      const res = await countTokens(gw, TEST_API_KEY, 'Hello <|endoftext|> and <|im_start|>');
      const body = (await res.json()) as { input_tokens: number };
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.input_tokens, 15 + 7, 'the text, as o200k_base counts it, and the framing');
    } finally {
      await gw.close();
      await mock.close();
    }
  });
});

describe('count_tokens with an unverified bring-your-own key', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;

  before(async () => {
    mock = await startMockOpenAI();
    gw = await startWith(mock, { tenancy: { byok: { enabled: true } } });
  });
  after(async () => {
    await gw.close();
    await mock.close();
  });

  for (const [name, make] of PROMPTS) {
    test(`a made-up sk- key, ${name}`, async () => {
      const content = make();
      const res = await whilePolling(gw, () => countTokens(gw, 'sk-made-up-0123456789abcdefghijklmnopqrstuv', content));
      const body = (await res.json()) as { input_tokens: number };
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.ok(body.input_tokens > 30_000, String(body.input_tokens));
      assert.equal(mock.requests.length, 0, 'counting never calls the provider');
    });
  }
});

describe('a routing deadline used up before any attempt', () => {
  test('is a timeout that says so, not "all circuits open"', async () => {
    const mock = await startMockOpenAI();
    // A window the prompt fits (about 507,000 tokens) but its byte count does not: the router counts it.
    const gw = await startWith(mock, { routing: { maxTotalMs: 50 } }, 600_000);
    try {
      // Starting the counter and counting take far longer than the 50 ms deadline.
      const res = await gw.post('/v1/chat/completions', {
        model: 'small/gpt-4.1-nano',
        messages: [{ role: 'user', content: randomLetters(1_000_000) }],
      });
      const body = (await res.json()) as { error: { code: string; message: string; retryable: boolean } };
      assert.equal(res.status, 504, JSON.stringify(body));
      assert.equal(body.error.code, 'timeout');
      assert.equal(body.error.retryable, true);
      assert.match(body.error.message, /deadline \(50 ms\) passed before a provider was tried/);
      assert.equal(mock.requests.length, 0);
    } finally {
      await gw.close();
      await mock.close();
    }
  });
});
