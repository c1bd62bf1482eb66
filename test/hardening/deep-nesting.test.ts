import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { nestingExceeds } from '../../src/http/json-body.ts';
import { mockProvider, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * Hostile-test finding: 5,000-level JSON in tool parameters, Anthropic `input_schema` (both endpoints),
 * `response_format.json_schema.schema`, nested tool-message parts or an unknown top-level field on
 * pass-through overflowed the stack in JSON.stringify and the prompt walks: 500 internal_error, marked
 * retryable. Bodies nested deeper than limits.maxJsonDepth (64) are refused at the edge with 400.
 */
/** A JSON schema `depth` objects deep, as text (building it as a value would overflow this test's own stack). */
function nested(depth: number): string {
  return `${'{"type":"object","properties":{"x":'.repeat(depth)}{"type":"string"}${'}}'.repeat(depth)}`;
}
function nestedArrays(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

describe('deeply nested request bodies', () => {
  let upstream: MockOpenAI;
  let gw: TestGateway;
  before(async () => {
    upstream = await startMockOpenAI();
    gw = await startGateway({
      demo: { enabled: false },
      providers: [mockProvider('openai', upstream.url, [{ name: 'gpt-4o-mini', qualityRank: 70 }])],
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const deep = nested(5_000);
  const user = '[{"role":"user","content":"hi"}]';
  const openaiBodies: Array<[string, string]> = [
    [
      'tool parameters',
      `{"model":"fast","messages":${user},"tools":[{"type":"function","function":{"name":"f","parameters":${deep}}}]}`,
    ],
    [
      'response_format schema',
      `{"model":"fast","messages":${user},"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":${deep}}}}`,
    ],
    [
      'nested tool-message parts',
      `{"model":"fast","messages":[{"role":"tool","tool_call_id":"c","content":[{"type":"text","text":"x","extra":${nestedArrays(5_000)}}]}]}`,
    ],
    [
      'an unknown top-level field (pass-through)',
      `{"model":"fast","messages":[{"role":"user","content":"hi"}],"x_extra":${nestedArrays(5_000)}}`,
    ],
  ];
  const anthropicBodies: Array<[string, string]> = [
    [
      'input_schema',
      `{"model":"fast","max_tokens":10,"messages":${user},"tools":[{"name":"f","input_schema":${deep}}]}`,
    ],
  ];

  for (const [what, body] of openaiBodies) {
    test(`/v1/chat/completions, 5,000 levels in ${what}: 400 invalid_request`, async () => {
      const res = await gw.post('/v1/chat/completions', body);
      const json = (await res.json()) as { error: { code: string; message: string; retryable: boolean } };
      assert.equal(res.status, 400);
      assert.equal(json.error.code, 'invalid_request');
      assert.equal(json.error.retryable, false);
      assert.match(json.error.message, /nested more than 64 levels/);
    });
  }
  for (const path of ['/v1/messages', '/v1/messages/count_tokens', '/v1/chat/completions']) {
    for (const [what, body] of anthropicBodies) {
      test(`${path}, 5,000 levels in ${what}: 400`, async () => {
        const res = await gw.post(path, body, { 'anthropic-version': '2023-06-01' });
        const json = (await res.json()) as { type?: string; error: { type: string; code?: string } };
        assert.equal(res.status, 400);
        if (path.startsWith('/v1/messages')) {
          assert.equal(json.type, 'error');
          assert.equal(json.error.type, 'invalid_request_error');
        } else assert.equal(json.error.code, 'invalid_request');
      });
    }
  }

  test('a schema 60 levels deep is still served', async () => {
    // 28 schema objects with their `properties` maps: 57 levels under the body's own 3.
    const res = await gw.post(
      '/v1/chat/completions',
      `{"model":"fast","messages":${user},"tools":[{"type":"function","function":{"name":"f","parameters":${nested(28)}}}]}`,
    );
    assert.equal(res.status, 200, await res.text());
  });

  test('the gateway is healthy after all of it', async () => {
    const res = await fetch(`${gw.url}/healthz`);
    assert.equal(res.status, 200);
  });
});

test('nestingExceeds counts objects and arrays, and stops at the first level past the bound', () => {
  assert.equal(nestingExceeds({ a: 1 }, 1), false);
  assert.equal(nestingExceeds({ a: {} }, 1), true);
  assert.equal(nestingExceeds([[[]]], 3), false);
  assert.equal(nestingExceeds([[[[]]]], 3), true);
  assert.equal(nestingExceeds('text', 0), false);
  assert.equal(nestingExceeds(JSON.parse(nestedArrays(100_000)), 64), true);
});
