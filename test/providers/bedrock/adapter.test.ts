/** The Bedrock adapter against the mock Bedrock: real HTTP, real SigV4, real event-stream framing. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GatewayError } from '../../../src/core/errors.ts';
import type { ChatRequest } from '../../../src/core/ir.ts';
import { bedrockAdapter } from '../../../src/providers/bedrock/adapter.ts';
import { JSON_OBJECT_INSTRUCTION, JSON_TOOL_NAME } from '../../../src/providers/bedrock/convert-to-bedrock-request.ts';
import {
  MOCK_BEDROCK_API_KEY,
  MOCK_BEDROCK_SESSION_CREDENTIALS,
  MOCK_REPLY_TEXT,
  type MockBedrock,
  mockTokens,
  promptTokens,
  startMockBedrock,
} from '../../mocks/bedrock.ts';
import { FaultQueue } from '../../mocks/faults.ts';
import { chat, collect, ctx, drain, fold, NOVA, SIGV4_KEY, target } from './helpers.ts';

type Json = Record<string, unknown>;

let mock: MockBedrock;
const faults = new FaultQueue();

before(async () => {
  mock = await startMockBedrock({ faults });
});
after(async () => {
  await mock.close();
});

function lastBody(): Json {
  return mock.requests.at(-1)!.body!;
}

const WEATHER_TOOLS: ChatRequest['tools'] = [
  {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
  { name: 'get_time', parameters: {} },
];

describe('Bedrock adapter: Converse', () => {
  it('sends a signed Converse request and maps text, stop reason and usage', async () => {
    const request = chat({
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Hello there' }] },
      ],
      maxTokens: 200,
      temperature: 0.2,
      topP: 0.9,
    });
    const response = await bedrockAdapter.complete(request, target(mock, { model: NOVA }), ctx());
    const recorded = mock.requests.at(-1)!;
    assert.equal(recorded.operation, 'Converse');
    assert.equal(recorded.rawPath, `/model/${encodeURIComponent(NOVA)}/converse`);
    assert.equal(recorded.auth, 'sigv4');
    assert.match(String(recorded.headers['authorization']), /^AWS4-HMAC-SHA256 Credential=AKIAMOCKBEDROCK00001\//);
    assert.deepEqual(recorded.body, {
      messages: [{ role: 'user', content: [{ text: 'Hello there' }] }],
      system: [{ text: 'Be brief.' }],
      inferenceConfig: { maxTokens: 200, temperature: 0.2, topP: 0.9 },
    });

    assert.equal(response.choices[0]!.message.content, MOCK_REPLY_TEXT);
    assert.equal(response.choices[0]!.finishReason, 'stop');
    assert.equal(response.model, NOVA);
    assert.match(response.id, /^[0-9a-f-]{36}$/, 'the x-amzn-requestid');
    const input = promptTokens(recorded.body!).total;
    assert.deepEqual(response.usage, {
      inputTokens: input,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: mockTokens(MOCK_REPLY_TEXT).length,
      reasoningTokens: 0,
    });
  });

  it('authenticates with a Bedrock API key as a bearer token', async () => {
    const key = { id: 'bedrock-api-key', secret: MOCK_BEDROCK_API_KEY };
    const response = await bedrockAdapter.complete(chat(), target(mock, { key }), ctx());
    assert.equal(response.choices[0]!.message.content, MOCK_REPLY_TEXT);
    assert.equal(mock.requests.at(-1)!.auth, 'bearer');
    assert.equal(mock.requests.at(-1)!.headers['authorization'], `Bearer ${MOCK_BEDROCK_API_KEY}`);
  });

  it('signs with session credentials (x-amz-security-token)', async () => {
    const key = {
      id: 'aws-session',
      secret: MOCK_BEDROCK_SESSION_CREDENTIALS.accessKeyId,
      secretAccessKey: MOCK_BEDROCK_SESSION_CREDENTIALS.secretAccessKey,
      sessionToken: MOCK_BEDROCK_SESSION_CREDENTIALS.sessionToken!,
    };
    await bedrockAdapter.complete(chat(), target(mock, { key }), ctx());
    assert.equal(mock.requests.at(-1)!.headers['x-amz-security-token'], key.sessionToken);
  });

  it('turns rejected credentials into authentication_failed with keyRejected, without leaking them', async () => {
    const cases = [
      { id: 'wrong-secret', secret: SIGV4_KEY.secret, secretAccessKey: 'not-the-secret-access-key-value' },
      { id: 'unknown-key', secret: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'whatever-secret-value-here' },
      { id: 'bad-api-key', secret: 'ABSKbm90LWEtcmVhbC1rZXk=' },
    ];
    for (const key of cases) {
      await assert.rejects(bedrockAdapter.complete(chat(), target(mock, { key }), ctx()), (err: GatewayError) => {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.code, 'authentication_failed');
        assert.equal(err.keyRejected, true);
        assert.equal(err.failover, true);
        assert.equal(err.upstreamStatus, 403);
        assert.ok(!err.message.includes(key.secret), 'no access key id or API key in the message');
        if (key.secretAccessKey) assert.ok(!err.message.includes(key.secretAccessKey));
        return true;
      });
    }
  });

  it('declines n > 1 and logprobs up front', () => {
    assert.match(bedrockAdapter.unsupportedReason!(chat({ n: 2 }), target(mock)) ?? '', /single choice/);
    assert.match(bedrockAdapter.unsupportedReason!(chat({ logprobs: true }), target(mock)) ?? '', /logprobs/);
    assert.equal(bedrockAdapter.unsupportedReason!(chat(), target(mock)), undefined);
  });

  it('sends tools and maps parallel tool calls, with the input as JSON text', async () => {
    const response = await bedrockAdapter.complete(
      chat({
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Weather and time [[parallel]]' }] }],
        tools: WEATHER_TOOLS,
        toolChoice: { type: 'auto' },
      }),
      target(mock),
      ctx(),
    );
    assert.deepEqual(lastBody()['toolConfig'], {
      tools: [
        {
          toolSpec: {
            name: 'get_weather',
            description: 'Weather for a city',
            inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
          },
        },
        { toolSpec: { name: 'get_time', inputSchema: { json: { type: 'object', properties: {} } } } },
      ],
    });
    const choice = response.choices[0]!;
    assert.equal(choice.finishReason, 'tool_calls');
    assert.equal(choice.message.content, 'Let me call a tool for that.');
    assert.deepEqual(
      choice.message.toolCalls?.map((c) => [c.name, JSON.parse(c.arguments)]),
      [
        ['get_weather', { city: 'Paris' }],
        ['get_time', {}],
      ],
    );
    assert.ok(choice.message.toolCalls?.every((c) => c.id.startsWith('tooluse_')));
  });

  it('forces a tool with toolChoice required → any, and a named tool → tool', async () => {
    await bedrockAdapter.complete(
      chat({ tools: WEATHER_TOOLS, toolChoice: { type: 'required' } }),
      target(mock),
      ctx(),
    );
    assert.deepEqual((lastBody()['toolConfig'] as Json)['toolChoice'], { any: {} });
    const response = await bedrockAdapter.complete(
      chat({ tools: WEATHER_TOOLS, toolChoice: { type: 'tool', name: 'get_time' } }),
      target(mock),
      ctx(),
    );
    assert.deepEqual((lastBody()['toolConfig'] as Json)['toolChoice'], { tool: { name: 'get_time' } });
    assert.equal(response.choices[0]!.message.toolCalls?.[0]?.name, 'get_time');
  });

  it('round-trips a tool conversation: toolUse and toolResult blocks, merged turns, toolConfig kept', async () => {
    const response = await bedrockAdapter.complete(
      chat({
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and the time?' }] },
          {
            role: 'assistant',
            content: [{ type: 'text', text: 'Checking.' }],
            toolCalls: [
              { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
              { id: 'call_2', name: 'get_time', arguments: '' },
            ],
          },
          { role: 'tool', toolCallId: 'call_1', content: [{ type: 'text', text: '18°C, sunny' }] },
          { role: 'tool', toolCallId: 'call_2', content: [{ type: 'text', text: 'failed' }], isError: true },
          { role: 'user', content: [{ type: 'text', text: 'Thanks!' }] },
        ],
        tools: WEATHER_TOOLS,
        toolChoice: { type: 'none' },
      }),
      target(mock),
      ctx(),
    );
    const body = lastBody();
    assert.deepEqual(body['messages'], [
      { role: 'user', content: [{ text: 'Weather in Paris and the time?' }] },
      {
        role: 'assistant',
        content: [
          { text: 'Checking.' },
          { toolUse: { toolUseId: 'call_1', name: 'get_weather', input: { city: 'Paris' } } },
          { toolUse: { toolUseId: 'call_2', name: 'get_time', input: {} } },
        ],
      },
      {
        role: 'user',
        content: [
          { toolResult: { toolUseId: 'call_1', content: [{ text: '18°C, sunny' }] } },
          { toolResult: { toolUseId: 'call_2', content: [{ text: 'failed' }], status: 'error' } },
          { text: 'Thanks!' },
        ],
      },
    ]);
    // `none` cannot be expressed, but the history needs the tools declared.
    assert.equal(((body['toolConfig'] as Json)['tools'] as unknown[]).length, 2);
    assert.equal((body['toolConfig'] as Json)['toolChoice'], undefined);
    assert.equal(response.choices[0]!.message.content, 'I received 2 tool result(s). The weather is fine.');
  });

  it('leaves tools out for toolChoice none when the history has no tool calls', async () => {
    await bedrockAdapter.complete(chat({ tools: WEATHER_TOOLS, toolChoice: { type: 'none' } }), target(mock), ctx());
    assert.equal(lastBody()['toolConfig'], undefined);
  });

  it('sends images as base64 bytes with their format', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex').toString('base64');
    await bedrockAdapter.complete(
      chat({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: png } },
            ],
          },
        ],
      }),
      target(mock),
      ctx(),
    );
    assert.deepEqual((lastBody()['messages'] as Json[])[0], {
      role: 'user',
      content: [{ text: 'What is this?' }, { image: { format: 'png', source: { bytes: png } } }],
    });
  });

  it('asks Anthropic models for thinking and returns signed reasoning', async () => {
    const response = await bedrockAdapter.complete(
      chat({ reasoning: { effort: 'low' }, temperature: 0.5, topK: 5 }),
      target(mock),
      ctx(),
    );
    const body = lastBody();
    assert.deepEqual(body['additionalModelRequestFields'], { thinking: { type: 'enabled', budget_tokens: 2048 } });
    assert.deepEqual(body['inferenceConfig'], { maxTokens: 2048 + 8192 }, 'temperature dropped, room for the answer');
    const reasoning = response.choices[0]!.message.reasoning;
    assert.equal(reasoning?.length, 1);
    assert.match(reasoning![0]!.text, /think briefly/);
    assert.ok(reasoning![0]!.signature);
  });

  it('echoes signed reasoning back to Anthropic models only', async () => {
    const messages: ChatRequest['messages'] = [
      { role: 'user', content: [{ type: 'text', text: 'Q' }] },
      {
        role: 'assistant',
        content: [{ type: 'text', text: 'A' }],
        reasoning: [{ text: 'thought', signature: 'sig' }, { text: 'unsigned' }, { text: '', redactedData: 'cmVk' }],
      },
      { role: 'user', content: [{ type: 'text', text: 'Q2' }] },
    ];
    await bedrockAdapter.complete(chat({ messages }), target(mock), ctx());
    assert.deepEqual((lastBody()['messages'] as Json[])[1], {
      role: 'assistant',
      content: [
        { reasoningContent: { reasoningText: { text: 'thought', signature: 'sig' } } },
        { reasoningContent: { redactedContent: 'cmVk' } },
        { text: 'A' },
      ],
    });
    await bedrockAdapter.complete(chat({ messages }), target(mock, { model: NOVA }), ctx());
    assert.deepEqual((lastBody()['messages'] as Json[])[1], { role: 'assistant', content: [{ text: 'A' }] });
  });

  it('asks for structured output natively with outputConfig.textFormat', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, temp: { type: 'number' } } };
    const response = await bedrockAdapter.complete(
      chat({ responseFormat: { type: 'json_schema', name: 'weather', schema, strict: true } }),
      target(mock),
      ctx(),
    );
    assert.deepEqual(lastBody()['outputConfig'], {
      textFormat: {
        type: 'json_schema',
        structure: { jsonSchema: { schema: JSON.stringify(schema), name: 'weather' } },
      },
    });
    assert.deepEqual(JSON.parse(response.choices[0]!.message.content!), { city: 'Paris', temp: 42 });
  });

  it('in tool mode, forces a json_response tool and returns its input as the text', async () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' } } };
    const request = chat({ responseFormat: { type: 'json_schema', name: 'answer', schema } });
    const t = target(mock, { providerOptions: { jsonSchemaMode: 'tool' } });
    const response = await bedrockAdapter.complete(request, t, ctx());
    assert.deepEqual((lastBody()['toolConfig'] as Json)['toolChoice'], { tool: { name: JSON_TOOL_NAME } });
    assert.equal(lastBody()['outputConfig'], undefined);
    assert.equal(response.choices[0]!.message.content, '{"answer":"Paris"}');
    assert.equal(response.choices[0]!.message.toolCalls, undefined);
    assert.equal(response.choices[0]!.finishReason, 'stop');

    const streamed = fold(await collect(await bedrockAdapter.stream({ ...request, stream: true }, t, ctx())));
    assert.equal(streamed.text, '{"answer":"Paris"}');
    assert.deepEqual(streamed.toolCalls, []);
    assert.equal(streamed.finish?.reason, 'stop');
  });

  it('asks for json_object with a system instruction', async () => {
    await bedrockAdapter.complete(chat({ responseFormat: { type: 'json_object' } }), target(mock), ctx());
    assert.deepEqual(lastBody()['system'], [{ text: JSON_OBJECT_INSTRUCTION }]);
  });

  it('maps every stop reason', async () => {
    const cases: Array<[string, Partial<ChatRequest>, string]> = [
      ['[[guardrail]]', {}, 'content_filter'],
      ['[[content-filtered]]', {}, 'content_filter'],
      ['[[context-window]]', {}, 'length'],
      ['plain', { maxTokens: 3 }, 'length'],
      ['plain', { stop: ['mock'] }, 'stop'],
      ['[[tools]]', { tools: WEATHER_TOOLS }, 'tool_calls'],
    ];
    for (const [text, extra, reason] of cases) {
      const request = chat({ messages: [{ role: 'user', content: [{ type: 'text', text }] }], ...extra });
      const response = await bedrockAdapter.complete(request, target(mock), ctx());
      assert.equal(response.choices[0]!.finishReason, reason, text);
      const streamed = fold(
        await collect(await bedrockAdapter.stream({ ...request, stream: true }, target(mock), ctx())),
      );
      assert.equal(streamed.finish?.reason, reason, `${text} (stream)`);
    }
  });

  it('reports the matched stop sequence and cuts max_tokens answers', async () => {
    const request = chat({ stop: ['mock'] });
    const response = await bedrockAdapter.complete(request, target(mock), ctx());
    assert.deepEqual(lastBody()['additionalModelResponseFieldPaths'], ['/delta/stop_sequence']);
    assert.equal(response.choices[0]!.stopSequence, 'mock');
    assert.equal(response.choices[0]!.message.content, 'Hello from the ');
    const streamed = fold(
      await collect(await bedrockAdapter.stream({ ...request, stream: true }, target(mock), ctx())),
    );
    assert.deepEqual(streamed.finish, { reason: 'stop', stopSequence: 'mock' });

    const cut = await bedrockAdapter.complete(chat({ maxTokens: 3 }), target(mock), ctx());
    assert.equal(cut.choices[0]!.message.content, 'Hello from the ');
    assert.equal(cut.usage.outputTokens, 3);
  });

  it('turns malformed model output into a retryable error', async () => {
    const request = chat({ messages: [{ role: 'user', content: [{ type: 'text', text: '[[malformed-tool]]' }] }] });
    await assert.rejects(bedrockAdapter.complete(request, target(mock), ctx()), (err: GatewayError) => {
      assert.equal(err.code, 'provider_unavailable');
      assert.equal(err.failover, true);
      return true;
    });
    const { error } = await drain(await bedrockAdapter.stream({ ...request, stream: true }, target(mock), ctx()));
    assert.equal((error as GatewayError).code, 'provider_unavailable');
  });

  it('meters prompt caching: cache write first, cache read after, inputTokens the whole prompt', async () => {
    const system = 'You are a careful assistant. '.repeat(20);
    const request = chat({
      messages: [
        { role: 'system', content: [{ type: 'text', text: system, cacheControl: { type: 'ephemeral' } }] },
        { role: 'user', content: [{ type: 'text', text: 'Cache me' }] },
      ],
    });
    const first = await bedrockAdapter.complete(request, target(mock), ctx());
    assert.deepEqual(lastBody()['system'], [{ text: system }, { cachePoint: { type: 'default' } }]);
    const prompt = promptTokens(lastBody());
    assert.ok(prompt.cachedPrefix > 0);
    assert.equal(first.usage.inputTokens, prompt.total);
    assert.equal(first.usage.cacheWriteTokens, prompt.cachedPrefix);
    assert.equal(first.usage.cachedInputTokens, 0);

    const second = fold(await collect(await bedrockAdapter.stream({ ...request, stream: true }, target(mock), ctx())));
    assert.equal(second.usage?.inputTokens, prompt.total);
    assert.equal(second.usage?.cachedInputTokens, prompt.cachedPrefix);
    assert.equal(second.usage?.cacheWriteTokens, 0);
  });

  it('maps HTTP error statuses from the mock through the error table', async () => {
    const cases: Array<[number, string, boolean]> = [
      [400, 'invalid_request', false],
      [403, 'permission_denied', false],
      [404, 'not_found', false],
      [408, 'timeout', true],
      [424, 'provider_unavailable', true],
      [429, 'rate_limited', true],
      [500, 'provider_unavailable', true],
      [503, 'provider_unavailable', true],
    ];
    for (const [status, code, retryable] of cases) {
      faults.push({ kind: 'status', status });
      await assert.rejects(bedrockAdapter.complete(chat(), target(mock), ctx()), (err: GatewayError) => {
        assert.equal(err.code, code, `status ${status}`);
        assert.equal(err.retryable, retryable);
        assert.equal(err.upstreamStatus, status);
        return true;
      });
    }
  });

  it('maps a real "Input is too long" ValidationException to context_length_exceeded', async () => {
    const small = await startMockBedrock({ contextWindow: 5 });
    try {
      await assert.rejects(
        bedrockAdapter.complete(
          chat({ messages: [{ role: 'user', content: [{ type: 'text', text: 'one two three four five six' }] }] }),
          target(small),
          ctx(),
        ),
        (err: GatewayError) => err.code === 'context_length_exceeded' && err.failover,
      );
    } finally {
      await small.close();
    }
  });

  it('treats a garbage 200 body and a cut body as retryable provider failures', async () => {
    faults.push({ kind: 'garbage-body' });
    await assert.rejects(bedrockAdapter.complete(chat(), target(mock), ctx()), { code: 'provider_unavailable' });
    faults.push({ kind: 'reset-mid-stream', afterEvents: 0 });
    await assert.rejects(bedrockAdapter.complete(chat(), target(mock), ctx()), { code: 'provider_unavailable' });
  });
});

describe('Bedrock adapter: ConverseStream', () => {
  it('streams text: start, deltas, finish, then usage', async () => {
    const events = await collect(await bedrockAdapter.stream(chat({ stream: true }), target(mock), ctx()));
    assert.equal(mock.requests.at(-1)!.operation, 'ConverseStream');
    assert.equal(mock.requests.at(-1)!.headers['accept'], 'application/vnd.amazon.eventstream');
    assert.equal(events[0]!.type, 'start');
    assert.deepEqual(events.at(-2), { type: 'finish', choice: 0, reason: 'stop' });
    assert.equal(events.at(-1)!.type, 'usage');
    const folded = fold(events);
    assert.equal(folded.text, MOCK_REPLY_TEXT);
    assert.equal(folded.usage?.outputTokens, mockTokens(MOCK_REPLY_TEXT).length);
    assert.ok(events.filter((e) => e.type === 'text').length > 1, 'delivered as several deltas');
  });

  it('assembles streamed parallel tool calls, closing empty input as {}', async () => {
    const events = await collect(
      await bedrockAdapter.stream(
        chat({
          stream: true,
          messages: [{ role: 'user', content: [{ type: 'text', text: '[[parallel]]' }] }],
          tools: WEATHER_TOOLS,
        }),
        target(mock),
        ctx(),
      ),
    );
    const folded = fold(events);
    assert.equal(folded.text, 'Let me call a tool for that.');
    assert.deepEqual(
      folded.toolCalls.map((c) => ({ name: c.name, args: JSON.parse(c.arguments), id: c.id?.startsWith('tooluse_') })),
      [
        { name: 'get_weather', args: { city: 'Paris' }, id: true },
        { name: 'get_time', args: {}, id: true },
      ],
    );
    assert.equal(folded.finish?.reason, 'tool_calls');
    const firstOfEach = events.filter((e) => e.type === 'tool-call' && e.id !== undefined);
    assert.equal(firstOfEach.length, 2, 'the first event of each call carries id and name');
  });

  it('streams reasoning text and its signature', async () => {
    const folded = fold(
      await collect(
        await bedrockAdapter.stream(chat({ stream: true, reasoning: { budgetTokens: 4000 } }), target(mock), ctx()),
      ),
    );
    assert.deepEqual(lastBody()['additionalModelRequestFields'], {
      thinking: { type: 'enabled', budget_tokens: 4000 },
    });
    assert.match(folded.reasoning, /think briefly/);
    assert.equal(folded.signatures.length, 1);
    assert.equal(folded.text, MOCK_REPLY_TEXT);
  });

  it('turns each exception event into its GatewayError after delivering what came before', async () => {
    const cases: Array<[string, string]> = [
      ['throttlingException', 'rate_limited'],
      ['modelStreamErrorException', 'provider_unavailable'],
      ['validationException', 'context_length_exceeded'],
      ['internalServerException', 'provider_unavailable'],
      ['serviceUnavailableException', 'provider_unavailable'],
    ];
    for (const [exception, code] of cases) {
      const stream = await bedrockAdapter.stream(
        chat({
          stream: true,
          messages: [{ role: 'user', content: [{ type: 'text', text: `[[stream-exception:${exception}]]` }] }],
        }),
        target(mock),
        ctx(),
      );
      const { events, error } = await drain(stream);
      assert.ok(error instanceof GatewayError, exception);
      assert.equal(error.code, code, exception);
      assert.equal(events[0]!.type, 'start');
      assert.ok(!events.some((e) => e.type === 'finish' || e.type === 'usage'), 'no finish or usage invented');
    }
  });

  it('throws provider_unavailable when the stream is cut, malformed, or ends without messageStop', async () => {
    for (const fault of [
      { kind: 'reset-mid-stream', afterEvents: 3 },
      { kind: 'malformed-stream', afterEvents: 3 },
      { kind: 'malformed-stream', afterEvents: 0 },
    ] as const) {
      faults.push(fault);
      const { events, error } = await drain(await bedrockAdapter.stream(chat({ stream: true }), target(mock), ctx()));
      assert.ok(error instanceof GatewayError, fault.kind);
      assert.equal(error.code, 'provider_unavailable', fault.kind);
      assert.equal(error.retryable, true);
      assert.ok(!events.some((e) => e.type === 'finish'), `${fault.kind}: no finish`);
      if (fault.afterEvents === 3) assert.ok(fold(events).text.length > 0, 'delivered text kept');
    }
  });

  it('times out a stalled stream', async () => {
    faults.push({ kind: 'stall-mid-stream', afterEvents: 2 });
    const stream = await bedrockAdapter.stream(chat({ stream: true }), target(mock, { firstByteMs: 300 }), ctx());
    const { error } = await drain(stream);
    assert.ok(error instanceof GatewayError);
    assert.equal(error.code, 'timeout');
  });

  it('fails before streaming on HTTP errors', async () => {
    faults.push({ kind: 'status', status: 429 });
    await assert.rejects(bedrockAdapter.stream(chat({ stream: true }), target(mock), ctx()), { code: 'rate_limited' });
  });

  it('decodes frames split across TCP chunks and many frames in one chunk the same way', async () => {
    const request = chat({
      stream: true,
      messages: [{ role: 'user', content: [{ type: 'text', text: '[[parallel]] [[reasoning]]' }] }],
      tools: WEATHER_TOOLS,
    });
    const results = [];
    for (const streamWrites of ['frame', 'split', 'coalesced'] as const) {
      const m = await startMockBedrock({ streamWrites });
      try {
        const events = await collect(await bedrockAdapter.stream(request, target(m), ctx()));
        results.push(events.map((e) => (e.type === 'start' ? { ...e, id: '', created: 0 } : e)));
      } finally {
        await m.close();
      }
    }
    assert.ok(results[0]!.length > 10);
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[2], results[0]);
  });
});
