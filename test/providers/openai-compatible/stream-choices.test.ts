import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { GatewayError } from '../../../src/core/errors.ts';
import type { StreamEvent } from '../../../src/core/ir.ts';
import { openAICompatibleAdapter } from '../../../src/providers/openai-compatible/adapter.ts';
import type { UpstreamTarget } from '../../../src/providers/types.ts';
import { DEFAULT_UPSTREAM_LIMITS } from '../../helpers/upstream-limits.ts';
import { callContext, chatRequest, collect } from '../gemini/helpers.ts';

/**
 * The OpenAI family's stream on the IR path (adapter.stream, used when the caller speaks another protocol):
 * complete only when every choice index it saw has a finish_reason, with `[DONE]` or without.
 */

function chunk(index: number, delta: Record<string, unknown>, finish: string | null = null): string {
  const body = {
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index, delta, finish_reason: finish }],
  };
  return `data: ${JSON.stringify(body)}\n\n`;
}

describe('OpenAI-compatible stream, several choices', () => {
  let body = '';
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(body);
  });
  let target: UpstreamTarget;

  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const model = 'gpt-4o-mini';
    target = {
      provider: {
        id: 'up',
        kind: 'openai',
        baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
        keys: [{ id: 'k', secret: 'sk-test' }],
        options: {},
        timeouts: { connectMs: 1_000, firstByteMs: 2_000, totalMs: 5_000 },
        limits: DEFAULT_UPSTREAM_LIMITS,
      },
      model: {
        id: `up/${model}`,
        name: model,
        provider: 'up',
        upstreamName: model,
        price: { input: 1, cachedInput: 1, cacheWrite: 1, output: 1 },
        contextWindow: 128_000,
        maxOutputTokens: 16_384,
        capabilities: { tools: true, vision: false, jsonSchema: true, streaming: true, reasoning: false },
        qualityRank: 50,
        tiers: [],
      },
      key: { id: 'k', secret: 'sk-test' },
    };
  });
  after(() => server.close());

  const stream = async (): Promise<StreamEvent[]> =>
    collect(await openAICompatibleAdapter.stream(chatRequest({ n: 2, stream: true }), target, callContext()));

  const twoStarted = chunk(0, { role: 'assistant', content: 'A' }) + chunk(1, { role: 'assistant', content: 'B' });

  test('a choice left unfinished is an error, whether [DONE] comes or not', async () => {
    for (const done of ['data: [DONE]\n\n', '']) {
      body = twoStarted + chunk(0, {}, 'stop') + done;
      await assert.rejects(stream(), (err: GatewayError) => {
        assert.equal(err.code, 'provider_unavailable');
        assert.match(err.message, /ended the stream before finishing/);
        return true;
      });
    }
  });

  test('every choice finished is a complete answer, with [DONE] or without', async () => {
    for (const done of ['data: [DONE]\n\n', '']) {
      body = twoStarted + chunk(1, {}, 'length') + chunk(0, {}, 'stop') + done;
      const finishes = (await stream()).filter((e) => e.type === 'finish');
      assert.deepEqual(
        finishes.map((e) => [e.choice, e.reason]),
        [
          [1, 'length'],
          [0, 'stop'],
        ],
      );
    }
  });
});
