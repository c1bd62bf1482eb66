import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MODEL_NAME_MAX_CHARS } from '../../src/protocols/model-name.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { validateErrorResponse } from '../helpers/openai-schema.ts';

/**
 * Bounds at the edge, on both inbound formats: the model name has a maximum length, max_tokens is at least 1
 * (as OpenAI and Anthropic require), and no error message quotes a client's input at full length.
 * Runs against the built-in demo provider.
 */
const HUGE = 'x'.repeat(100_000);
const USER = [{ role: 'user', content: 'hello' }];
/** Far larger than any message the gateway writes itself, far smaller than the inputs below. */
const SMALL_ENVELOPE = 1_000;

describe('edge validation', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway();
  });
  after(() => gw.close());

  async function openAIError(path: string, body: unknown, param: string | null) {
    const res = await gw.post(path, body);
    const text = await res.text();
    assert.equal(res.status, 400, text.slice(0, 300));
    assert.ok(text.length < SMALL_ENVELOPE, `a ${text.length}-character error body`);
    const parsed = JSON.parse(text) as { error: { code: string; param: string | null; message: string } };
    assert.equal(parsed.error.code, 'invalid_request');
    assert.equal(parsed.error.param, param);
    assert.ok(validateErrorResponse(parsed).ok);
    return parsed.error;
  }

  async function anthropicError(path: string, body: unknown) {
    const res = await gw.post(path, body, { 'anthropic-version': '2023-06-01' });
    const text = await res.text();
    assert.equal(res.status, 400, text.slice(0, 300));
    assert.ok(text.length < SMALL_ENVELOPE, `a ${text.length}-character error body`);
    const parsed = JSON.parse(text) as { type: string; error: { type: string; message: string } };
    assert.equal(parsed.type, 'error');
    assert.equal(parsed.error.type, 'invalid_request_error');
    return parsed.error;
  }

  test('a 100 KB model name is refused on both formats, naming the field and not quoting it', async () => {
    const chat = await openAIError('/v1/chat/completions', { model: HUGE, messages: USER }, 'model');
    assert.match(chat.message, /'model'/);
    for (const path of ['/v1/messages', '/v1/messages/count_tokens']) {
      const error = await anthropicError(path, { model: HUGE, max_tokens: 16, messages: USER });
      assert.match(error.message, /'model'.*256/);
    }
  });

  test(`a model name of ${MODEL_NAME_MAX_CHARS} characters is accepted and gets a short 404`, async () => {
    const res = await gw.post('/v1/messages', {
      model: 'y'.repeat(MODEL_NAME_MAX_CHARS),
      max_tokens: 16,
      messages: USER,
    });
    const text = await res.text();
    assert.equal(res.status, 404, text.slice(0, 300));
    assert.ok(text.length < SMALL_ENVELOPE);
  });

  test('max_tokens 0 is refused on both formats; 1 is accepted', async () => {
    const anthropic = await anthropicError('/v1/messages', { model: 'fast', max_tokens: 0, messages: USER });
    assert.match(anthropic.message, /'max_tokens'/);
    await openAIError('/v1/chat/completions', { model: 'fast', max_tokens: 0, messages: USER }, 'max_tokens');
    await openAIError(
      '/v1/chat/completions',
      { model: 'fast', max_completion_tokens: 0, messages: USER },
      'max_completion_tokens',
    );
    const ok = await gw.post('/v1/messages', { model: 'fast', max_tokens: 1, messages: USER });
    assert.equal(ok.status, 200, await ok.text());
  });

  test('a huge client key in a field path is clipped in the message and in param', async () => {
    const error = await openAIError(
      '/v1/chat/completions',
      { model: 'fast', messages: USER, logit_bias: { [HUGE]: 'high' } },
      `logit_bias.${'x'.repeat(64)}…`,
    );
    assert.ok(error.message.length < 200);
  });

  test('block types only Anthropic serves are named briefly when no Anthropic provider is configured', async () => {
    const content = Array.from({ length: 50 }, (_, i) => ({ type: `${i}-${'z'.repeat(10_000)}` }));
    const error = await anthropicError('/v1/messages', {
      model: 'fast',
      max_tokens: 16,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }, ...content] }],
    });
    assert.match(error.message, /only an Anthropic provider can serve/);
    assert.match(error.message, /45 more block types/);
  });

  test('an unknown route with a long path gets a short 404', async () => {
    const res = await fetch(`${gw.url}/v1/${'p'.repeat(8_000)}`);
    const text = await res.text();
    assert.equal(res.status, 404);
    assert.ok(text.length < SMALL_ENVELOPE, `a ${text.length}-character error body`);
  });
});
