import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayError } from '../../../src/core/errors.ts';
import type { Message } from '../../../src/core/ir.ts';
import { anthropicModelTraits, claudeVersion } from '../../../src/providers/anthropic/anthropic-model-traits.ts';
import { JSON_OBJECT_INSTRUCTION } from '../../../src/providers/anthropic/convert-anthropic-response-format.ts';
import { DEFAULT_MAX_TOKENS } from '../../../src/providers/anthropic/convert-anthropic-thinking.ts';
import { convertToAnthropicMessages } from '../../../src/providers/anthropic/convert-to-anthropic-messages.ts';
import { convertToAnthropicRequest } from '../../../src/providers/anthropic/convert-to-anthropic-request.ts';
import { catalogModel, chatRequest } from './helpers.ts';

const weather = {
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

describe('convertToAnthropicMessages', () => {
  test('leading system messages become system blocks, cache markers kept', () => {
    const prompt = convertToAnthropicMessages([
      {
        role: 'system',
        content: [{ type: 'text', text: 'Be brief.', cacheControl: { type: 'ephemeral', ttl: '1h' } }],
      },
      { role: 'system', content: [{ type: 'text', text: 'Be kind.' }] },
      { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
    ]);
    assert.deepEqual(prompt.system, [
      { type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral', ttl: '1h' } },
      { type: 'text', text: 'Be kind.' },
    ]);
    assert.deepEqual(prompt.messages, [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }]);
  });

  test('a later system message becomes user text at its place, merged with the next user turn', () => {
    const prompt = convertToAnthropicMessages([
      { role: 'user', content: [{ type: 'text', text: 'A' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'B' }] },
      { role: 'system', content: [{ type: 'text', text: 'Now answer in French.' }] },
      { role: 'user', content: [{ type: 'text', text: 'C' }] },
    ]);
    assert.deepEqual(prompt.system, []);
    assert.deepEqual(prompt.messages.at(-1), {
      role: 'user',
      content: [
        { type: 'text', text: 'Now answer in French.' },
        { type: 'text', text: 'C' },
      ],
    });
  });

  test('multi-turn with parallel tool calls and results: tool results merge into one user turn, first', () => {
    const messages: Message[] = [
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }] },
      {
        role: 'assistant',
        content: [{ type: 'text', text: 'Checking.' }],
        toolCalls: [
          { id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
          { id: 'toolu_2', name: 'get_weather', arguments: '{"city":"Rome"}' },
        ],
      },
      { role: 'tool', toolCallId: 'toolu_1', content: [{ type: 'text', text: 'Sunny' }] },
      { role: 'tool', toolCallId: 'toolu_2', content: [{ type: 'text', text: 'Rain' }], isError: true },
      { role: 'user', content: [{ type: 'text', text: 'Thanks' }] },
    ];
    const prompt = convertToAnthropicMessages(messages);
    assert.equal(prompt.messages.length, 3);
    assert.deepEqual(prompt.messages[1], {
      role: 'assistant',
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Rome' } },
      ],
    });
    assert.deepEqual(prompt.messages[2], {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny' },
        { type: 'tool_result', tool_use_id: 'toolu_2', content: 'Rain', is_error: true },
        { type: 'text', text: 'Thanks' },
      ],
    });
  });

  test('images: base64, URL and data: URL', () => {
    const prompt = convertToAnthropicMessages([
      {
        role: 'user',
        content: [
          { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBOR' } },
          { type: 'image', source: { kind: 'url', url: 'https://example.com/cat.jpg' } },
          { type: 'image', source: { kind: 'url', url: 'data:image/jpeg;base64,/9j/4AAQ' } },
          { type: 'text', text: 'Describe' },
        ],
      },
    ]);
    assert.deepEqual(prompt.messages[0]!.content, [
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
      { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } },
      { type: 'text', text: 'Describe' },
    ]);
  });

  test('tool results with images keep block form', () => {
    const prompt = convertToAnthropicMessages([
      { role: 'user', content: [{ type: 'text', text: 'x' }] },
      { role: 'assistant', content: [], toolCalls: [{ id: 't1', name: 'shot', arguments: '{}' }] },
      {
        role: 'tool',
        toolCallId: 't1',
        content: [
          { type: 'text', text: 'Screenshot:' },
          { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'AAAA' } },
        ],
      },
    ]);
    assert.deepEqual(prompt.messages[2]!.content, [
      {
        type: 'tool_result',
        tool_use_id: 't1',
        content: [
          { type: 'text', text: 'Screenshot:' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
        ],
      },
    ]);
  });

  test('signed reasoning goes back as thinking, redacted as redacted_thinking, unsigned is dropped', () => {
    const prompt = convertToAnthropicMessages([
      { role: 'user', content: [{ type: 'text', text: 'Q' }] },
      {
        role: 'assistant',
        content: [{ type: 'text', text: 'A' }],
        reasoning: [
          { text: 'hmm', signature: 'sig1' },
          { text: '', redactedData: 'opaque' },
          { text: 'from deepseek' },
        ],
      },
      { role: 'user', content: [{ type: 'text', text: 'Q2' }] },
    ]);
    assert.deepEqual(prompt.messages[1]!.content, [
      { type: 'thinking', thinking: 'hmm', signature: 'sig1' },
      { type: 'redacted_thinking', data: 'opaque' },
      { type: 'text', text: 'A' },
    ]);
  });

  test('empty text is dropped, prefill loses trailing whitespace, malformed tool arguments become {}', () => {
    const prompt = convertToAnthropicMessages([
      {
        role: 'user',
        content: [
          { type: 'text', text: '' },
          { type: 'text', text: 'Q' },
        ],
      },
      { role: 'assistant', content: [], toolCalls: [{ id: 't', name: 'f', arguments: '{"a":' }] },
      { role: 'tool', toolCallId: 't', content: [] },
      { role: 'assistant', content: [{ type: 'text', text: 'The answer is ' }] },
    ]);
    assert.deepEqual(prompt.messages[0]!.content, [{ type: 'text', text: 'Q' }]);
    assert.deepEqual(prompt.messages[1]!.content, [{ type: 'tool_use', id: 't', name: 'f', input: {} }]);
    assert.deepEqual(prompt.messages[2]!.content, [{ type: 'tool_result', tool_use_id: 't' }]);
    assert.deepEqual(prompt.messages[3]!.content, [{ type: 'text', text: 'The answer is' }]);
  });
});

describe('convertToAnthropicRequest', () => {
  test('basic fields: model, max_tokens default, stop sequences, user, sampling on an older model', () => {
    const { body } = convertToAnthropicRequest(
      chatRequest({ stop: ['END'], user: 'u-1', temperature: 0.3, topK: 40 }),
      catalogModel({ upstreamName: 'claude-3-5-haiku-20241022', maxOutputTokens: 8192 }),
    );
    assert.equal(body.model, 'claude-3-5-haiku-20241022');
    assert.equal(body.max_tokens, 8192);
    assert.deepEqual(body.stop_sequences, ['END']);
    assert.deepEqual(body.metadata, { user_id: 'u-1' });
    assert.equal(body.temperature, 0.3);
    assert.equal(body.top_k, 40);
    assert.equal(body.system, undefined);
  });

  test('max_tokens: the default, the caller value, and the catalog ceiling', () => {
    const model = catalogModel({ maxOutputTokens: 64_000 });
    assert.equal(convertToAnthropicRequest(chatRequest(), model).body.max_tokens, DEFAULT_MAX_TOKENS);
    assert.equal(convertToAnthropicRequest(chatRequest({ maxTokens: 100 }), model).body.max_tokens, 100);
    assert.equal(convertToAnthropicRequest(chatRequest({ maxTokens: 500_000 }), model).body.max_tokens, 64_000);
  });

  test('sampling: dropped on Claude 4.7+ and on API version 2026-10-21; top_p yields to temperature on 4.5', () => {
    const sampling = { temperature: 0.5, topP: 0.9, topK: 10 };
    const opus47 = convertToAnthropicRequest(
      chatRequest(sampling),
      catalogModel({ upstreamName: 'claude-opus-4-7' }),
    ).body;
    assert.equal(opus47.temperature, undefined);
    assert.equal(opus47.top_p, undefined);
    assert.equal(opus47.top_k, undefined);
    const newVersion = convertToAnthropicRequest(
      chatRequest(sampling),
      catalogModel({ upstreamName: 'claude-3-7-sonnet' }),
      {
        apiVersion: '2026-10-21',
      },
    ).body;
    assert.equal(newVersion.temperature, undefined);
    const haiku45 = convertToAnthropicRequest(
      chatRequest(sampling),
      catalogModel({ upstreamName: 'claude-haiku-4-5' }),
    ).body;
    assert.equal(haiku45.temperature, 0.5);
    assert.equal(haiku45.top_p, undefined);
    const topPOnly = convertToAnthropicRequest(chatRequest({ topP: 0.8 }), catalogModel()).body;
    assert.equal(topPOnly.top_p, 0.8);
  });

  test('tools and every tool_choice', () => {
    const model = catalogModel();
    const tools = [weather, { name: 'now', parameters: {} }];
    const cases: Array<[Parameters<typeof chatRequest>[0], unknown]> = [
      [{ tools }, undefined],
      [{ tools, toolChoice: { type: 'auto' } }, { type: 'auto' }],
      [{ tools, toolChoice: { type: 'none' } }, { type: 'none' }],
      [{ tools, toolChoice: { type: 'required' } }, { type: 'any' }],
      [
        { tools, toolChoice: { type: 'tool', name: 'now' } },
        { type: 'tool', name: 'now' },
      ],
      [
        { tools, parallelToolCalls: false },
        { type: 'auto', disable_parallel_tool_use: true },
      ],
      [
        { tools, toolChoice: { type: 'required' }, parallelToolCalls: false },
        { type: 'any', disable_parallel_tool_use: true },
      ],
    ];
    for (const [overrides, expected] of cases) {
      const { body } = convertToAnthropicRequest(chatRequest(overrides), model);
      assert.deepEqual(body.tool_choice, expected, JSON.stringify(overrides));
    }
    const { body } = convertToAnthropicRequest(chatRequest({ tools }), model);
    assert.deepEqual(body.tools, [
      { name: 'get_weather', description: 'Weather for a city', input_schema: weather.parameters },
      { name: 'now', input_schema: { type: 'object', properties: {} } },
    ]);
    // A tool choice without tools is not sent (Anthropic rejects it).
    assert.equal(
      convertToAnthropicRequest(chatRequest({ toolChoice: { type: 'none' } }), model).body.tool_choice,
      undefined,
    );
  });

  test('tool calls in the history without tools on the request: placeholder definitions, tool_choice none', () => {
    const { body } = convertToAnthropicRequest(
      chatRequest({
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Weather?' }] },
          { role: 'assistant', content: [], toolCalls: [{ id: 't1', name: 'get_weather', arguments: '{}' }] },
          { role: 'tool', toolCallId: 't1', content: [{ type: 'text', text: 'Sunny' }] },
        ],
      }),
      catalogModel(),
    );
    assert.deepEqual(
      body.tools?.map((t) => (t as { name: string }).name),
      ['get_weather'],
    );
    assert.deepEqual(body.tool_choice, { type: 'none' });
  });

  test('strict tools only on models with structured outputs', () => {
    const tools = [{ ...weather, strict: true }];
    const withStrict = convertToAnthropicRequest(chatRequest({ tools }), catalogModel()).body.tools![0] as {
      strict?: boolean;
    };
    assert.equal(withStrict.strict, true);
    const older = catalogModel({
      capabilities: { tools: true, vision: true, jsonSchema: false, streaming: true, reasoning: false },
    });
    const without = convertToAnthropicRequest(chatRequest({ tools }), older).body.tools![0] as { strict?: boolean };
    assert.equal(without.strict, undefined);
  });

  test('json_schema: output_config.format on models with structured outputs', () => {
    const schema = {
      type: 'object',
      properties: { a: { type: 'string' } },
      required: ['a'],
      additionalProperties: false,
    };
    const plan = convertToAnthropicRequest(
      chatRequest({ responseFormat: { type: 'json_schema', name: 'thing', schema } }),
      catalogModel(),
    );
    assert.deepEqual(plan.body.output_config, { format: { type: 'json_schema', schema } });
    assert.equal(plan.jsonToolName, undefined);
  });

  test('json_schema on an older model: a forced json tool', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    const older = catalogModel({
      upstreamName: 'claude-3-5-haiku-20241022',
      capabilities: { tools: true, vision: true, jsonSchema: false, streaming: true, reasoning: false },
    });
    const plan = convertToAnthropicRequest(
      chatRequest({ responseFormat: { type: 'json_schema', name: 'thing', schema } }),
      older,
    );
    assert.equal(plan.jsonToolName, 'json');
    assert.deepEqual(plan.body.tool_choice, { type: 'tool', name: 'json' });
    assert.equal((plan.body.tools![0] as { name: string }).name, 'json');
    assert.deepEqual((plan.body.tools![0] as { input_schema: unknown }).input_schema, schema);
    // With the caller's own tools: the model must call one of them or the json tool.
    const withTools = convertToAnthropicRequest(
      chatRequest({ tools: [weather], responseFormat: { type: 'json_schema', name: 'thing', schema } }),
      older,
    );
    assert.deepEqual(withTools.body.tool_choice, { type: 'any' });
    assert.deepEqual(
      withTools.body.tools!.map((t) => (t as { name: string }).name),
      ['get_weather', 'json'],
    );
  });

  test('json_object: a system instruction, appended after the caller system prompt', () => {
    const { body } = convertToAnthropicRequest(
      chatRequest({
        messages: [
          { role: 'system', content: [{ type: 'text', text: 'You are terse.' }] },
          { role: 'user', content: [{ type: 'text', text: 'Give me data' }] },
        ],
        responseFormat: { type: 'json_object' },
      }),
      catalogModel(),
    );
    assert.deepEqual(body.system, [
      { type: 'text', text: 'You are terse.' },
      { type: 'text', text: JSON_OBJECT_INSTRUCTION },
    ]);
  });

  test('reasoning on an older model: enabled thinking with a budget below max_tokens; sampling dropped', () => {
    const model = catalogModel({ upstreamName: 'claude-haiku-4-5', maxOutputTokens: 64_000 });
    const { body } = convertToAnthropicRequest(
      chatRequest({ reasoning: { effort: 'low' }, temperature: 0.2, topP: 0.5 }),
      model,
    );
    assert.deepEqual(body.thinking, { type: 'enabled', budget_tokens: 4096 });
    assert.equal(body.max_tokens, DEFAULT_MAX_TOKENS + 4096);
    assert.equal(body.temperature, undefined);
    assert.equal(body.top_p, undefined);
    const budget = convertToAnthropicRequest(
      chatRequest({ reasoning: { budgetTokens: 5000 }, maxTokens: 3000 }),
      model,
    ).body;
    assert.deepEqual(budget.thinking, { type: 'enabled', budget_tokens: 2999 });
    assert.equal(budget.max_tokens, 3000);
    const tooSmall = convertToAnthropicRequest(
      chatRequest({ reasoning: { effort: 'high' }, maxTokens: 800 }),
      model,
    ).body;
    assert.equal(tooSmall.thinking, undefined);
  });

  test('reasoning on Claude 4.6+: adaptive thinking with output_config.effort', () => {
    const model = catalogModel({ upstreamName: 'claude-opus-5', maxOutputTokens: 128_000 });
    const { body } = convertToAnthropicRequest(chatRequest({ reasoning: { effort: 'medium' } }), model);
    assert.deepEqual(body.thinking, { type: 'adaptive' });
    assert.deepEqual(body.output_config, { effort: 'medium' });
    const fromBudget = convertToAnthropicRequest(chatRequest({ reasoning: { budgetTokens: 2000 } }), model).body;
    assert.deepEqual(fromBudget.output_config, { effort: 'low' });
  });

  test('no thinking with a forced tool choice', () => {
    const { body } = convertToAnthropicRequest(
      chatRequest({ reasoning: { effort: 'high' }, tools: [weather], toolChoice: { type: 'required' } }),
      catalogModel(),
    );
    assert.equal(body.thinking, undefined);
    assert.deepEqual(body.tool_choice, { type: 'any' });
  });

  test('n > 1 is refused with invalid_request naming n', () => {
    assert.throws(
      () => convertToAnthropicRequest(chatRequest({ n: 2 }), catalogModel()),
      (err: unknown) => err instanceof GatewayError && err.code === 'invalid_request' && err.param === 'n',
    );
  });
});

describe('anthropicModelTraits', () => {
  test('reads versions from every naming scheme', () => {
    assert.deepEqual(claudeVersion('claude-sonnet-4-5-20250929'), { major: 4, minor: 5 });
    assert.deepEqual(claudeVersion('claude-3-7-sonnet-20250219'), { major: 3, minor: 7 });
    assert.deepEqual(claudeVersion('claude-opus-4-20250514'), { major: 4, minor: 0 });
    assert.deepEqual(claudeVersion('anthropic.claude-opus-4-6-v1'), { major: 4, minor: 6 });
    assert.deepEqual(claudeVersion('claude-opus-5'), { major: 5, minor: 0 });
    assert.equal(claudeVersion('my-model'), undefined);
  });

  test('generations', () => {
    assert.deepEqual(anthropicModelTraits('claude-haiku-4-5'), {
      adaptiveThinking: false,
      adaptiveOnly: false,
      noSampling: false,
      exclusiveSampling: true,
    });
    assert.equal(anthropicModelTraits('claude-sonnet-4-6').adaptiveThinking, true);
    assert.equal(anthropicModelTraits('claude-sonnet-4-6').noSampling, false);
    assert.equal(anthropicModelTraits('claude-opus-4-7').adaptiveOnly, true);
    assert.equal(anthropicModelTraits('claude-fable-5').noSampling, true);
    assert.equal(anthropicModelTraits('claude-3-5-haiku-20241022').exclusiveSampling, false);
  });
});
