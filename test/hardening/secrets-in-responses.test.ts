import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { leakedSecrets } from '../helpers/secrets.ts';
import { type MockAnthropic, startMockAnthropic } from '../mocks/anthropic.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * Upstream answers that echo the key they were sent (some servers print it whole in a 401 or 500) must not
 * carry it to the client: not in an error body, not in a stream's error event, on either endpoint, for the
 * operator's keys and for a caller's own (BYOK) key; and GET /metrics names keys only by their configured ids.
 * The keys include formats no pattern recognises (no known prefix, under 32 characters), as a self-hosted
 * OpenAI-compatible server or a proxy may use. The logs are checked in secrets-in-logs.test.ts.
 */
const OPERATOR_OPENAI_KEY = 'vllm-local-token-7f3a9c';
const OPERATOR_ANTHROPIC_KEY = 'claude-proxy-token-81bd2e';
const OWN_OPENAI_KEY = 'sk-byok-echo-0123456789abcdefghijklmnopq';
/** A provider key without a prefix (Mistral's look): BYOK by the X-Modro-Provider header. */
const OWN_PLAIN_KEY = 'Zq8pLk2V9xTn4Rb7Wm1Yc6Hd';
const OWN_ANTHROPIC_KEY = 'sk-ant-byok-echo-0123456789abcdefghijkl';
/** Each status the OpenAI and Anthropic error tables map to a message that may quote the upstream's. */
const STATUSES = [400, 401, 403, 404, 429, 500];
const SECRETS = [OPERATOR_OPENAI_KEY, OPERATOR_ANTHROPIC_KEY, OWN_OPENAI_KEY, OWN_PLAIN_KEY, OWN_ANTHROPIC_KEY];

interface Caller {
  name: string;
  /** The bearer token sent to the gateway, and the key the upstream then receives. */
  token: string;
  upstreamKey: string;
  headers?: Record<string, string>;
}

describe('secrets never reach a client', () => {
  let openai: MockOpenAI;
  let anthropic: MockAnthropic;
  let echo: Server;
  let gw: TestGateway;

  before(async () => {
    openai = await startMockOpenAI({ apiKeys: [OPERATOR_OPENAI_KEY, OWN_OPENAI_KEY, OWN_PLAIN_KEY] });
    anthropic = await startMockAnthropic({ apiKey: OPERATOR_ANTHROPIC_KEY });
    echo = await startEchoingStream();
    const model = (name: string) => [
      {
        name,
        qualityRank: 70,
        contextWindow: 200_000,
        price: { input: 1, output: 2 },
        capabilities: { tools: true, vision: true, jsonSchema: true, streaming: true },
      },
    ];
    gw = await startTenancyGateway({
      demo: { enabled: false },
      tenancy: { byok: { enabled: true } },
      providers: [
        {
          id: 'openai',
          kind: 'openai',
          baseUrl: openai.url,
          keys: [OPERATOR_OPENAI_KEY],
          models: model('gpt-4o-mini'),
        },
        {
          id: 'anthropic',
          kind: 'anthropic',
          baseUrl: anthropic.url,
          keys: [OPERATOR_ANTHROPIC_KEY],
          models: model('claude-sonnet-4-5'),
        },
        {
          id: 'echo',
          kind: 'openai',
          baseUrl: `http://127.0.0.1:${(echo.address() as AddressInfo).port}/v1`,
          keys: [{ id: 'echo-key', key: OPERATOR_OPENAI_KEY }],
          models: model('echo-model'),
        },
      ],
      // One attempt per request, so each queued fault meets its request; circuits never open here.
      routing: { maxAttempts: 1 },
      health: { failureThreshold: 1_000, cooldownMs: 1, rejectedKeyRetryMs: 1 },
    });
  });
  after(async () => {
    await gw.close();
    await openai.close();
    await anthropic.close();
    echo.closeAllConnections();
    await new Promise((resolve) => echo.close(resolve));
  });

  const upstreams = [
    {
      name: 'an OpenAI-compatible upstream',
      model: 'openai/gpt-4o-mini',
      callers: [
        { name: 'operator key', token: TEST_API_KEY, upstreamKey: OPERATOR_OPENAI_KEY },
        { name: 'own key', token: OWN_OPENAI_KEY, upstreamKey: OWN_OPENAI_KEY },
        {
          name: 'own key without a prefix',
          token: OWN_PLAIN_KEY,
          upstreamKey: OWN_PLAIN_KEY,
          headers: { 'x-modro-provider': 'openai' },
        },
      ] as Caller[],
      push: (status: number, key: string) =>
        openai.faults.push({
          kind: 'status',
          status,
          headers: { 'retry-after': '0' },
          body: {
            error: {
              message: `Incorrect API key provided: ${key}. Authorization: Bearer ${key}`,
              type: 'invalid_request_error',
              code: 'invalid_api_key',
            },
          },
        }),
    },
    {
      name: 'an Anthropic upstream',
      model: 'anthropic/claude-sonnet-4-5',
      callers: [
        { name: 'operator key', token: TEST_API_KEY, upstreamKey: OPERATOR_ANTHROPIC_KEY },
        { name: 'own key', token: OWN_ANTHROPIC_KEY, upstreamKey: OWN_ANTHROPIC_KEY },
      ] as Caller[],
      push: (status: number, key: string) =>
        anthropic.faults.push({
          kind: 'status',
          status,
          headers: { 'retry-after': '0' },
          body: {
            type: 'error',
            error: { type: 'api_error', message: `invalid x-api-key: ${key} (x-api-key: ${key})` },
          },
        }),
    },
  ];

  for (const upstream of upstreams) {
    test(`error bodies from ${upstream.name} (${STATUSES.join(', ')}), both endpoints, streaming or not`, async () => {
      const leaks: string[] = [];
      let checked = 0;
      for (const caller of upstream.callers) {
        for (const status of STATUSES) {
          for (const path of ['/v1/chat/completions', '/v1/messages']) {
            for (const stream of [false, true]) {
              upstream.push(status, caller.upstreamKey);
              const res = await call(gw, caller, path, upstream.model, stream);
              const text = await res.text();
              const what = `${caller.name}, upstream ${status}, ${path}${stream ? ' (stream)' : ''}`;
              assert.ok(res.status >= 400, `${what}: answered ${res.status}`);
              if (leakedSecrets(text, SECRETS).length > 0) leaks.push(`${what}: ${text}`);
              checked++;
            }
          }
        }
      }
      assert.equal(checked, upstream.callers.length * STATUSES.length * 4);
      assert.deepEqual(leaks, [], 'a key reached the client');
    });
  }

  test('an error event in the middle of a stream, echoing the key, on both endpoints, from both kinds', async () => {
    const callers: Caller[] = [
      { name: 'operator key', token: TEST_API_KEY, upstreamKey: OPERATOR_OPENAI_KEY },
      {
        name: 'own key without a prefix',
        token: OWN_PLAIN_KEY,
        upstreamKey: OWN_PLAIN_KEY,
        headers: { 'x-modro-provider': 'echo' },
      },
    ];
    const streams: Array<{ what: string; res: Response }> = [];
    for (const path of ['/v1/chat/completions', '/v1/messages']) {
      for (const caller of callers) {
        streams.push({
          what: `OpenAI-compatible, ${caller.name}, ${path}`,
          res: await call(gw, caller, path, 'echo/echo-model', true),
        });
      }
      // Anthropic's `error` event, of a type whose message the gateway passes on (scrubbed).
      anthropic.enqueue({
        kind: 'events',
        events: [
          {
            type: 'message_start',
            message: {
              id: 'msg_echo',
              type: 'message',
              role: 'assistant',
              model: 'claude-sonnet-4-5',
              content: [],
              stop_reason: null,
              stop_sequence: null,
              usage: { input_tokens: 5, output_tokens: 1 },
            },
          },
          { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
          { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } },
          {
            type: 'error',
            error: {
              type: 'invalid_request_error',
              message: `credentials ${OPERATOR_ANTHROPIC_KEY} are not valid here`,
            },
          },
        ],
      });
      const operator = { name: 'operator key', token: TEST_API_KEY, upstreamKey: OPERATOR_ANTHROPIC_KEY };
      streams.push({
        what: `Anthropic, operator key, ${path}`,
        res: await call(gw, operator, path, 'anthropic/claude-sonnet-4-5', true),
      });
    }
    for (const { what, res } of streams) {
      const text = await res.text();
      assert.equal(res.status, 200, `${what}: the stream had started`);
      assert.match(text, /"error"/, `${what}: the stream ends with an error event`);
      assert.deepEqual(leakedSecrets(text, SECRETS), [], `${what}: a key is in the stream: ${text}`);
    }
  });

  test('GET /metrics names provider keys only by their ids, after all that traffic', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    assert.deepEqual(leakedSecrets(text, SECRETS), []);
    const keyLabels = new Set([...text.matchAll(/\bkey="([^"]*)"/g)].map((m) => m[1]));
    assert.ok(keyLabels.size > 0, 'circuit states are exported');
    assert.deepEqual([...keyLabels].sort(), ['anthropic#1', 'echo-key', 'openai#1']);
  });
});

/** POST a chat request in either protocol, as the given caller. */
function call(gw: TestGateway, caller: Caller, path: string, model: string, stream: boolean): Promise<Response> {
  const messages = [{ role: 'user', content: 'hello' }];
  const body = path === '/v1/messages' ? { model, max_tokens: 64, stream, messages } : { model, stream, messages };
  return gw.post(path, body, {
    authorization: `Bearer ${caller.token}`,
    'anthropic-version': '2023-06-01',
    ...caller.headers,
  });
}

/**
 * An OpenAI-compatible upstream that starts every stream, then sends an error event quoting the key it was
 * sent (a server whose own failure message includes the request's headers).
 */
async function startEchoingStream(): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const key = String(req.headers['authorization'] ?? '').replace(/^Bearer /, '');
      const chunk = {
        id: 'chatcmpl-echo',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'echo-model',
        choices: [{ index: 0, delta: { role: 'assistant', content: 'Hello' }, finish_reason: null }],
      };
      const error = {
        error: { message: `Internal error: the request with credentials ${key} failed`, type: 'server_error' },
      };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      res.end(`data: ${JSON.stringify(error)}\n\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
