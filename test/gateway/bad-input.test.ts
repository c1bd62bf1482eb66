import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { validateErrorResponse } from '../helpers/openai-schema.ts';

/**
 * Bad input ends in a documented 4xx with OpenAI's error envelope and the `retryable` flag, never a 500,
 * a stack trace or a crash. Runs against the built-in demo provider (no upstream needed).
 */
describe('bad input', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startGateway({ server: { bodyLimitBytes: 64 * 1024 } });
  });
  after(async () => {
    await gw.close();
  });

  async function expectError(res: Response, status: number, code: string, message?: RegExp) {
    assert.equal(res.status, status);
    const body = (await res.json()) as { error: { code: string; message: string; retryable: boolean } };
    assert.equal(body.error.code, code);
    assert.equal(typeof body.error.retryable, 'boolean');
    if (message) assert.match(body.error.message, message);
    assert.doesNotMatch(body.error.message, /\bat .*\.ts:\d+/, 'no stack traces');
    const check = validateErrorResponse(body);
    assert.ok(check.ok, check.errors);
    return body;
  }

  test('malformed JSON', async () => {
    await expectError(
      await gw.post('/v1/chat/completions', '{"model": "fast",'),
      400,
      'invalid_request',
      /not valid JSON/,
    );
  });

  test('empty body and non-object bodies', async () => {
    await expectError(await gw.post('/v1/chat/completions', ''), 400, 'invalid_request');
    await expectError(await gw.post('/v1/chat/completions', '[1,2]'), 400, 'invalid_request', /JSON object/);
    await expectError(await gw.post('/v1/chat/completions', '"text"'), 400, 'invalid_request');
    await expectError(await gw.post('/v1/chat/completions', 'null'), 400, 'invalid_request');
  });

  test('wrong types name the field', async () => {
    const body = await expectError(
      await gw.post('/v1/chat/completions', { model: 'fast', messages: [{ role: 'user', content: 42 }] }),
      400,
      'invalid_request',
    );
    assert.match(body.error.message, /messages\[0\]\.content/);
    await expectError(
      await gw.post('/v1/chat/completions', {
        model: 'fast',
        messages: [{ role: 'user', content: 'x' }],
        temperature: 'hot',
      }),
      400,
      'invalid_request',
      /temperature/,
    );
    await expectError(
      await gw.post('/v1/chat/completions', { model: 'fast', messages: [{ role: 'wizard', content: 'x' }] }),
      400,
      'invalid_request',
      /role/,
    );
  });

  test('an oversized body is refused with 413 before it is parsed', async () => {
    const big = 'x'.repeat(100 * 1024);
    await expectError(
      await gw.post('/v1/chat/completions', { model: 'fast', messages: [{ role: 'user', content: big }] }),
      413,
      'invalid_request',
      /larger than the configured limit/,
    );
  });

  test('unknown model, unknown preset, tool_choice naming a missing tool', async () => {
    await expectError(
      await gw.post('/v1/chat/completions', { model: 'gpt-nope', messages: [{ role: 'user', content: 'x' }] }),
      404,
      'not_found',
      /gpt-nope/,
    );
    await expectError(
      await gw.post('/v1/chat/completions', { model: 'fast:cheapo', messages: [{ role: 'user', content: 'x' }] }),
      400,
      'invalid_request',
      /preset 'cheapo'/,
    );
    await expectError(
      await gw.post('/v1/chat/completions', {
        model: 'fast',
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'function', function: { name: 'a' } }],
        tool_choice: { type: 'function', function: { name: 'b' } },
      }),
      400,
      'invalid_request',
      /tool_choice/,
    );
  });

  test('authentication: missing, malformed and wrong keys', async () => {
    const url = `${gw.url}/v1/chat/completions`;
    const body = JSON.stringify({ model: 'fast', messages: [{ role: 'user', content: 'x' }] });
    await expectError(
      await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
      401,
      'authentication_failed',
      /Missing API key/,
    );
    await expectError(
      await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Basic abc' },
        body,
      }),
      401,
      'authentication_failed',
    );
    await expectError(
      await gw.post('/v1/chat/completions', body, { authorization: 'Bearer wrong-key-123' }),
      401,
      'authentication_failed',
      /Invalid API key/,
    );
  });

  test('wrong content type and unknown routes', async () => {
    await expectError(
      await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'text/plain' },
        body: 'hello',
      }),
      415,
      'invalid_request',
    );
    await expectError(await gw.post('/v1/nothing-here', {}), 404, 'not_found');
  });

  test('property: random JSON bodies always get a 2xx or a 4xx envelope, never a 5xx', async () => {
    const message = fc.record(
      {
        role: fc.oneof(fc.constantFrom('user', 'system', 'assistant', 'tool', 'developer'), fc.string()),
        content: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.anything(), { maxLength: 3 })),
        tool_call_id: fc.string(),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      fc.anything(),
      fc.record(
        {
          model: fc.oneof(
            fc.constantFrom('auto', 'fast', 'deep:quality', 'utility:cheapest', 'demo/demo-fast'),
            fc.string(),
          ),
          messages: fc.oneof(fc.array(message, { maxLength: 4 }), fc.anything()),
          stream: fc.oneof(fc.boolean(), fc.anything()),
          temperature: fc.oneof(fc.double(), fc.string()),
          max_tokens: fc.oneof(fc.integer(), fc.double()),
          n: fc.integer({ min: -2, max: 5 }),
          tools: fc.anything(),
          response_format: fc.anything(),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(body, async (value) => {
        const text = JSON.stringify(value) ?? 'null';
        const res = await gw.post('/v1/chat/completions', text);
        const raw = await res.text();
        assert.ok(res.status < 500, `status ${res.status} for ${text.slice(0, 200)}: ${raw.slice(0, 200)}`);
        if (res.status >= 400) {
          const parsed = JSON.parse(raw) as { error: { code: string; retryable: boolean } };
          assert.equal(typeof parsed.error.code, 'string');
          assert.equal(parsed.error.retryable, false);
        }
      }),
      { numRuns: 300, seed: 20261122 },
    );
    // The gateway is still healthy afterwards.
    const health = await fetch(`${gw.url}/healthz`);
    assert.equal(health.status, 200);
  });

  test('property: random bodies on /v1/messages get 2xx or an Anthropic-format 4xx, never a 5xx', async () => {
    const block = fc.oneof(
      fc.record({ type: fc.constant('text'), text: fc.string() }),
      fc.record({
        type: fc.constantFrom('image', 'tool_use', 'tool_result', 'document', 'nope'),
        source: fc.anything(),
      }),
    );
    const body = fc.oneof(
      fc.anything(),
      fc.record(
        {
          model: fc.oneof(fc.constantFrom('auto', 'fast', 'deep:quality'), fc.string()),
          max_tokens: fc.oneof(fc.integer({ min: -5, max: 100 }), fc.string()),
          system: fc.oneof(fc.string(), fc.array(block, { maxLength: 2 }), fc.anything()),
          messages: fc.oneof(
            fc.array(
              fc.record({
                role: fc.oneof(fc.constantFrom('user', 'assistant'), fc.string()),
                content: fc.oneof(fc.string(), fc.array(block, { maxLength: 3 })),
              }),
              { maxLength: 3 },
            ),
            fc.anything(),
          ),
          stream: fc.oneof(fc.boolean(), fc.anything()),
          tools: fc.anything(),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(body, async (value) => {
        const text = JSON.stringify(value) ?? 'null';
        const res = await gw.post('/v1/messages', text, { 'anthropic-version': '2023-06-01' });
        const raw = await res.text();
        assert.ok(res.status < 500, `status ${res.status} for ${text.slice(0, 200)}: ${raw.slice(0, 200)}`);
        if (res.status >= 400) {
          const parsed = JSON.parse(raw) as { type: string; error: { type: string; message: string } };
          assert.equal(parsed.type, 'error');
          assert.equal(typeof parsed.error.type, 'string');
        }
      }),
      { numRuns: 200, seed: 1122 },
    );
  });

  test('random bytes as a body never crash the server', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (bytes) => {
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
          body: bytes,
        });
        assert.ok(res.status < 500, `status ${res.status}`);
        await res.arrayBuffer();
      }),
      { numRuns: 100, seed: 7 },
    );
  });
});
