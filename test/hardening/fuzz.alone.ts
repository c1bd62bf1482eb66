import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { type GatewayProcess, removeDataDir, spawnGateway, watchHealth } from '../helpers/gateway-process.ts';
import { type MockAnthropic, startMockAnthropic } from '../mocks/anthropic.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * A hostile fuzz pass over both inbound formats (and count_tokens), against a gateway in its own process with
 * an OpenAI and an Anthropic upstream (so both the pass-through and the translated paths run): every answer
 * is a 2xx or a documented 4xx in the endpoint's envelope, never a 5xx from the gateway itself, the process
 * never dies, and /healthz stays responsive throughout. The inputs are what the hostile test threw: long runs
 * without spaces, deep nesting, odd Unicode, prototype keys, huge numbers, unknown fields, many messages.
 *
 * Runs alone, after the other test files (`npm run test:alone`, `*.alone.ts`): it measures how fast the
 * gateway answers /healthz, which test files running beside it on the same cores would disturb.
 */
const KEY = 'fuzz-gateway-key-0123456789';
const MODELS = ['auto', 'fast', 'deep:quality', 'utility:cheapest', 'up/gpt-4o-mini', 'anthropic/claude-haiku-4-5'];

const longRun = fc
  .tuple(fc.constantFrom('x', '!', ' ', '7', '語', '😀', 'ab'), fc.integer({ min: 1_000, max: 250_000 }))
  .map(([unit, n]) => unit.repeat(Math.ceil(n / unit.length)));
const oddText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
  fc.constantFrom(
    '\u0000',
    '\ud800',
    '__proto__',
    'constructor',
    'prototype',
    '</script>',
    '{{x}}',
    '\r\n\r\n',
    'data: [DONE]',
  ),
);
const text = fc.oneof({ weight: 5, arbitrary: oddText }, { weight: 1, arbitrary: longRun });
/** Nested arrays and objects up to 120 levels: some under the 64-level bound, some over. */
const deep = fc
  .tuple(fc.integer({ min: 1, max: 120 }), fc.boolean())
  .map(([depth, objects]) =>
    JSON.parse(objects ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`),
  );
const number = fc.oneof(fc.integer(), fc.double({ noNaN: true }), fc.constantFrom(0, -1, 1e308, -0, 2 ** 53 + 1, 0.5));
const anyValue = fc.oneof(fc.anything({ maxDepth: 3 }), text, deep, number);

/**
 * Bodies that are valid but for what the hostile test sends (long runs, odd text, many messages, deep schemas
 * under the bound), and the same bodies with one to three fields replaced by anything at all: most requests
 * reach routing and an upstream, the rest probe validation.
 */
const openaiValid = fc.record({
  model: fc.constantFrom(...MODELS),
  messages: fc.oneof(
    {
      weight: 6,
      arbitrary: fc.array(fc.record({ role: fc.constantFrom('user', 'system'), content: text }), {
        minLength: 1,
        maxLength: 3,
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 500, max: 3_000 })
        .map((n) => Array.from({ length: n }, () => ({ role: 'user', content: 'hi' }))),
    },
  ),
  stream: fc.boolean(),
  max_tokens: fc.integer({ min: 1, max: 300 }),
  tools: fc.constant(undefined),
});
const anthropicValid = fc.record({
  model: fc.constantFrom(...MODELS),
  max_tokens: fc.integer({ min: 1, max: 300 }),
  system: fc.oneof(fc.constant(undefined), text),
  messages: fc.array(fc.record({ role: fc.constant('user'), content: text }), { minLength: 1, maxLength: 2 }),
  stream: fc.boolean(),
});
const OPENAI_FIELDS = [
  'model',
  'messages',
  'stream',
  'stream_options',
  'max_tokens',
  'max_completion_tokens',
  'n',
  'temperature',
  'stop',
  'tools',
  'tool_choice',
  'response_format',
  'logprobs',
  'x_unknown_field',
  'messages.0.content',
  'messages.0.role',
];
const ANTHROPIC_FIELDS = [
  'model',
  'max_tokens',
  'system',
  'messages',
  'stream',
  'tools',
  'tool_choice',
  'thinking',
  'metadata',
  'stop_sequences',
  'x_unknown_field',
  'messages.0.content',
  'messages.0.role',
];
const toolsWithSchema = fc.array(
  fc.record({
    type: fc.constant('function'),
    function: fc.record({ name: fc.constantFrom('f', 'g'), parameters: deep }),
  }),
  { minLength: 1, maxLength: 2 },
);

function mutated(base: fc.Arbitrary<Record<string, unknown>>, fields: string[]) {
  return fc
    .tuple(base, fc.array(fc.tuple(fc.constantFrom(...fields), fc.oneof(anyValue, toolsWithSchema)), { maxLength: 3 }))
    .map(([body, edits]) => {
      const out = structuredClone(body) as Record<string, unknown>;
      for (const [path, value] of edits) {
        const parts = path.split('.');
        let target: unknown = out;
        for (const part of parts.slice(0, -1)) target = (target as Record<string, unknown> | undefined)?.[part];
        if (target && typeof target === 'object') (target as Record<string, unknown>)[parts.at(-1)!] = value;
      }
      return out;
    });
}
const openaiBody = mutated(openaiValid, OPENAI_FIELDS);
const anthropicBody = mutated(anthropicValid, ANTHROPIC_FIELDS);

describe('hostile fuzz over both inbound formats', () => {
  let openai: MockOpenAI;
  let anthropic: MockAnthropic;
  let gw: GatewayProcess;

  before(async () => {
    openai = await startMockOpenAI();
    anthropic = await startMockAnthropic();
    const model = (name: string) => [
      { name, qualityRank: 70, contextWindow: 32_000, maxOutputTokens: 4_096, price: { input: 1, output: 2 } },
    ];
    gw = await spawnGateway({
      auth: { keys: [{ id: 'fuzz', key: KEY }] },
      logging: { level: 'warn' },
      providers: [
        { id: 'up', kind: 'openai', baseUrl: openai.url, keys: [MOCK_API_KEY], models: model('gpt-4o-mini') },
        {
          id: 'anthropic',
          kind: 'anthropic',
          baseUrl: anthropic.url,
          keys: [anthropic.apiKey],
          models: model('claude-haiku-4-5'),
        },
      ],
    });
  });
  after(async () => {
    await gw.stop();
    removeDataDir(gw.dataDir);
    await openai.close();
    await anthropic.close();
  });

  const statuses = new Map<number, number>();
  /** Sends one body; asserts the answer is a 2xx or a 4xx in the endpoint's envelope. */
  async function send(path: string, value: unknown): Promise<void> {
    const body = JSON.stringify(value) ?? 'null';
    const res = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${KEY}`,
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
      },
      body,
      signal: AbortSignal.timeout(60_000),
    });
    const raw = await res.text();
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const where = `${path} ${res.status} for ${body.slice(0, 160)}…: ${raw.slice(0, 240)}`;
    assert.ok(res.status < 500, where);
    if (res.status >= 400) {
      const parsed = JSON.parse(raw) as { type?: string; error: { code?: string; type: string; message: string } };
      if (path.startsWith('/v1/messages')) assert.equal(parsed.type, 'error', where);
      else assert.equal(typeof parsed.error.code, 'string', where);
      assert.doesNotMatch(parsed.error.message, /\bat .*\.(ts|js):\d+/, 'no stack traces');
    } else if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
      // A stream that started ends with its protocol's terminator or an error event, never a bare cut.
      assert.match(raw, /data: \[DONE\]\n\n$|event: message_stop\n|"error"/, where);
    }
  }

  test('never a 5xx from the gateway, never a crash, /healthz answers throughout', async () => {
    const health = watchHealth(gw.url);
    const request = fc.oneof(
      fc.tuple(fc.constant('/v1/chat/completions'), openaiBody),
      fc.tuple(fc.constantFrom('/v1/messages', '/v1/messages/count_tokens'), anthropicBody),
    );
    await fc.assert(
      fc.asyncProperty(request, async ([path, body]) => send(path, body)),
      { numRuns: 300, seed: 2026_12_07, endOnFailure: true },
    );
    const { slowestMs, polls } = await health.stop();
    assert.equal(gw.exitCode(), null, 'the gateway process is still running');
    assert.ok(polls > 10, `health polls ran (${polls})`);
    const served = [...statuses].filter(([status]) => status < 300).reduce((n, [, count]) => n + count, 0);
    assert.ok(served >= 60, `enough requests reached an upstream: ${JSON.stringify([...statuses])}`);
    // Generous: the machine also runs this test's own work and other suites.
    assert.ok(slowestMs < 250, `slowest /healthz answer ${slowestMs.toFixed(0)} ms`);
  });
});
