import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { GatewayError } from '../../../src/core/errors.ts';
import type { StreamEvent } from '../../../src/core/ir.ts';
import { geminiAdapter } from '../../../src/providers/gemini/index.ts';
import { gemini } from '../../../src/providers/kinds/gemini.ts';
import { closeCallContexts } from '../../helpers/call-context.ts';
import { type MockGemini, startMockGemini } from '../../mocks/gemini.ts';
import { callContext, chatRequest, collect, collectUntilError, geminiTarget, textOf, userText } from './helpers.ts';

/** The adapter against the mock Gemini server: every conversion, over real HTTP. */

let mock: MockGemini;

before(async () => {
  mock = await startMockGemini();
});
beforeEach(() => mock.faults.clear());
after(async () => {
  await mock.close();
  await closeCallContexts();
});

type Json = Record<string, unknown>;
const lastBody = () => mock.requests.at(-1)!.body as Json;

const weather = {
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    properties: {
      city: { type: 'string', description: 'City name' },
      source: { type: 'string', format: 'uri' },
      unit: { $ref: '#/$defs/unit' },
      days: { type: 'integer', enum: [1, 3, 7] },
    },
    required: ['city'],
    additionalProperties: false,
    $defs: { unit: { type: 'string', enum: ['c', 'f'] } },
  },
};

describe('gemini adapter: requests', () => {
  it('calls generateContent on /v1beta with the key in x-goog-api-key, never in the URL', async () => {
    const target = geminiTarget(mock);
    await geminiAdapter.complete(chatRequest(), target, callContext());
    const recorded = mock.requests.at(-1)!;
    assert.equal(recorded.path, '/v1beta/models/gemini-2.5-flash:generateContent');
    assert.equal(recorded.headers['x-goog-api-key'], mock.apiKey);
    assert.equal(recorded.keySource, 'header');
    assert.deepEqual(recorded.query, {});
    assert.equal(gemini.defaultBaseUrl, 'https://generativelanguage.googleapis.com');
  });

  it('honours options.apiVersion and a `models/` prefix in the upstream name', async () => {
    const target = geminiTarget(mock, 'models/gemini-2.5-flash', { providerOptions: { apiVersion: 'v1alpha' } });
    await geminiAdapter.complete(chatRequest(), target, callContext());
    assert.equal(mock.requests.at(-1)!.path, '/v1alpha/models/gemini-2.5-flash:generateContent');
  });

  it('translates system, roles, images, tool calls and tool results into contents', async () => {
    const request = chatRequest({
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these?' },
            { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'image', source: { kind: 'url', url: 'https://example.com/cat.webp' } },
          ],
        },
        {
          role: 'assistant',
          content: [{ type: 'text', text: 'Let me check.' }],
          toolCalls: [
            { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
            { id: 'call_b', name: 'get_time', arguments: '{"zone":"CET"}' },
          ],
        },
        // Answered out of order: Gemini pairs by position, so they are put back in call order.
        { role: 'tool', toolCallId: 'call_b', content: [{ type: 'text', text: '12:00' }] },
        { role: 'tool', toolCallId: 'call_a', content: [{ type: 'text', text: 'no data' }], isError: true },
        { role: 'system', content: [{ type: 'text', text: 'Answer in French.' }] },
      ],
      tools: [weather, { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } }],
    });
    const response = await geminiAdapter.complete(request, geminiTarget(mock), callContext());
    assert.equal(response.choices[0]!.message.content, 'Received 2 function result(s): get_weather, get_time.');
    const body = lastBody();
    assert.deepEqual(body['systemInstruction'], { parts: [{ text: 'Be brief.' }] });
    assert.deepEqual(body['contents'], [
      {
        role: 'user',
        parts: [
          { text: 'What is in these?' },
          { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
          { fileData: { fileUri: 'https://example.com/cat.webp', mimeType: 'image/webp' } },
        ],
      },
      {
        role: 'model',
        parts: [
          { text: 'Let me check.' },
          { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
          { functionCall: { name: 'get_time', args: { zone: 'CET' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_weather', response: { error: 'no data' } } },
          { functionResponse: { name: 'get_time', response: { output: '12:00' } } },
          { text: 'Answer in French.' },
        ],
      },
    ]);
  });

  it('converts tool schemas to Gemini’s subset (the mock rejects anything else) and maps tool_choice', async () => {
    const request = chatRequest({
      messages: [userText('Weather? [tool]')],
      tools: [weather],
      toolChoice: { type: 'tool', name: 'get_weather' },
    });
    const response = await geminiAdapter.complete(request, geminiTarget(mock), callContext());
    assert.equal(response.choices[0]!.finishReason, 'tool_calls');
    const body = lastBody();
    assert.deepEqual(body['tools'], [
      {
        functionDeclarations: [
          {
            name: 'get_weather',
            description: 'Weather for a city',
            parameters: {
              type: 'OBJECT',
              properties: {
                city: { type: 'STRING', description: 'City name' },
                source: { type: 'STRING' },
                unit: { type: 'STRING', enum: ['c', 'f'] },
                days: { type: 'INTEGER', description: 'Allowed values: 1, 3, 7.' },
              },
              required: ['city'],
            },
          },
        ],
      },
    ]);
    assert.deepEqual(body['toolConfig'], {
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] },
    });
  });

  it('sends sampling options and drops penalties (Gemini 2.5 answers 400 to them)', async () => {
    const request = chatRequest({
      maxTokens: 100,
      temperature: 0.2,
      topP: 0.9,
      topK: 40,
      stop: ['END'],
      seed: 7,
      presencePenalty: 0.5,
      frequencyPenalty: 0.5,
      user: 'u-1',
    });
    await geminiAdapter.complete(request, geminiTarget(mock), callContext());
    assert.deepEqual(lastBody()['generationConfig'], {
      maxOutputTokens: 100,
      temperature: 0.2,
      topP: 0.9,
      topK: 40,
      stopSequences: ['END'],
      seed: 7,
    });
  });

  it('maps reasoning effort to a thinking level Gemini 3 Pro accepts, with thoughts included', async () => {
    const request = chatRequest({ reasoning: { effort: 'minimal' } });
    const response = await geminiAdapter.complete(request, geminiTarget(mock, 'gemini-3-pro-preview'), callContext());
    assert.deepEqual((lastBody()['generationConfig'] as Json)['thinkingConfig'], {
      includeThoughts: true,
      thinkingLevel: 'LOW',
    });
    assert.equal(
      response.choices[0]!.message.reasoning?.[0]?.text,
      '**Considering the request**\n\nThe user wrote: Hello',
    );
    assert.equal(response.choices[0]!.message.content, 'Mock Gemini reply to: Hello');
  });

  it('sends no thinkingConfig to a model the catalog does not mark as reasoning', async () => {
    const request = chatRequest({ reasoning: { effort: 'high' } });
    await geminiAdapter.complete(request, geminiTarget(mock, 'gemini-2.0-flash', { reasoning: false }), callContext());
    assert.equal(lastBody()['generationConfig'], undefined);
  });

  it('json_schema → responseMimeType + responseSchema, and the answer is the JSON text', async () => {
    const request = chatRequest({
      responseFormat: {
        type: 'json_schema',
        name: 'person',
        strict: true,
        schema: {
          type: 'object',
          properties: { name: { type: 'string' }, age: { type: ['integer', 'null'] } },
          required: ['name', 'age'],
          additionalProperties: false,
        },
      },
    });
    const response = await geminiAdapter.complete(request, geminiTarget(mock), callContext());
    const config = lastBody()['generationConfig'] as Json;
    assert.equal(config['responseMimeType'], 'application/json');
    assert.deepEqual(config['responseSchema'], {
      type: 'OBJECT',
      properties: { name: { type: 'STRING' }, age: { type: 'INTEGER', nullable: true } },
      required: ['name', 'age'],
    });
    assert.deepEqual(JSON.parse(response.choices[0]!.message.content!), { name: 'alpha', age: 1 });
  });

  it('n → candidateCount, one choice per candidate', async () => {
    const response = await geminiAdapter.complete(chatRequest({ n: 2 }), geminiTarget(mock), callContext());
    assert.equal((lastBody()['generationConfig'] as Json)['candidateCount'], 2);
    assert.deepEqual(
      response.choices.map((c) => [c.index, c.message.content]),
      [
        [0, 'Mock Gemini reply to: Hello'],
        [1, 'Mock Gemini reply to: Hello (candidate 1)'],
      ],
    );
  });

  it('unsupportedReason: logprobs, and JSON mode with tools on Gemini 2.x', () => {
    const target = geminiTarget(mock);
    assert.match(geminiAdapter.unsupportedReason!(chatRequest({ logprobs: true }), target)!, /logprobs/);
    const jsonWithTools = chatRequest({ responseFormat: { type: 'json_object' }, tools: [weather] });
    assert.ok(geminiAdapter.unsupportedReason!(jsonWithTools, target));
    assert.equal(
      geminiAdapter.unsupportedReason!(jsonWithTools, geminiTarget(mock, 'gemini-3-flash-preview')),
      undefined,
    );
    assert.equal(geminiAdapter.unsupportedReason!(chatRequest(), target), undefined);
  });
});

describe('gemini adapter: responses', () => {
  it('text answer: content, finish, id, model and usage (thoughts counted as output and reasoning)', async () => {
    const response = await geminiAdapter.complete(chatRequest(), geminiTarget(mock), callContext());
    assert.equal(response.choices.length, 1);
    assert.equal(response.choices[0]!.message.content, 'Mock Gemini reply to: Hello');
    assert.equal(response.choices[0]!.finishReason, 'stop');
    assert.equal(response.model, 'gemini-2.5-flash');
    assert.ok(response.id.length > 0);
    const input = response.usage.inputTokens;
    assert.ok(input > 0);
    assert.deepEqual(response.usage, {
      inputTokens: input,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: response.usage.outputTokens,
      reasoningTokens: 24,
    });
    assert.ok(response.usage.outputTokens > 24);
  });

  it('cached prompt tokens are reported as cached input, inside input', async () => {
    const response = await geminiAdapter.complete(
      chatRequest({ messages: [userText('Long context [cached]')] }),
      geminiTarget(mock),
      callContext(),
    );
    assert.ok(response.usage.cachedInputTokens > 0);
    assert.equal(response.usage.cachedInputTokens, Math.floor(response.usage.inputTokens / 2));
  });

  it('finish reasons: MAX_TOKENS → length, SAFETY → content_filter, RECITATION → content_filter, OTHER → stop', async () => {
    const cases: Array<[string, string, string | null]> = [
      ['Tell me a long story [max_tokens]', 'length', 'Mock Gemini reply '],
      ['Something risky [safety]', 'content_filter', null],
      ['Sing a song [recitation]', 'content_filter', 'Mock Gemini reply to: Sing a song [recitation]'],
      ['Odd [other]', 'stop', 'Mock Gemini reply to: Odd [other]'],
    ];
    for (const [text, reason, content] of cases) {
      const response = await geminiAdapter.complete(
        chatRequest({ messages: [userText(text)] }),
        geminiTarget(mock),
        callContext(),
      );
      assert.equal(response.choices[0]!.finishReason, reason, text);
      assert.equal(response.choices[0]!.message.content, content, text);
    }
  });

  it('a blocked prompt (promptFeedback.blockReason) → content_filtered, streaming or not', async () => {
    const request = chatRequest({ messages: [userText('Bad things [blocked]')] });
    await assert.rejects(geminiAdapter.complete(request, geminiTarget(mock), callContext()), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'content_filtered');
      assert.equal(err.retryable, false);
      assert.match(err.message, /SAFETY/);
      return true;
    });
    const events = await geminiAdapter.stream({ ...request, stream: true }, geminiTarget(mock), callContext());
    const { error } = await collectUntilError(events);
    assert.ok(error instanceof GatewayError && error.code === 'content_filtered');
  });

  it('MALFORMED_FUNCTION_CALL → retryable provider_unavailable, not an empty success', async () => {
    const request = chatRequest({ messages: [userText('Call it [malformed_call]')], tools: [weather] });
    await assert.rejects(
      geminiAdapter.complete(request, geminiTarget(mock), callContext()),
      (err: unknown) => err instanceof GatewayError && err.code === 'provider_unavailable' && err.retryable,
    );
  });

  it('function calls → tool_calls with stable ids carrying the thought signature; the round trip validates', async () => {
    const model = 'gemini-3-flash-preview';
    const first = chatRequest({ messages: [userText('Weather in Paris and Rome [parallel]')], tools: [weather] });
    const a = await geminiAdapter.complete(first, geminiTarget(mock, model), callContext());
    const b = await geminiAdapter.complete(first, geminiTarget(mock, model), callContext());
    const choice = a.choices[0]!;
    assert.equal(choice.finishReason, 'tool_calls');
    assert.equal(choice.message.content, null);
    const calls = choice.message.toolCalls!;
    assert.equal(calls.length, 2);
    assert.deepEqual(
      calls.map((c) => [c.name, JSON.parse(c.arguments)]),
      [
        ['get_weather', { city: 'alpha', source: 'alpha', unit: 'c', days: 1 }],
        ['get_weather', { city: 'alpha-1', source: 'alpha-1', unit: 'f', days: 2 }],
      ],
    );
    assert.deepEqual(
      calls.map((c) => c.id),
      b.choices[0]!.message.toolCalls!.map((c) => c.id),
      'same response, same ids',
    );
    assert.notEqual(calls[0]!.id, calls[1]!.id);
    for (const call of calls) assert.match(call.id, /^[A-Za-z0-9_-]+$/);

    // The caller sends the calls and results back (OpenAI-style: only ids survive).
    const followUp = chatRequest({
      messages: [
        userText('Weather in Paris and Rome [parallel]'),
        { role: 'assistant', content: [], toolCalls: calls },
        { role: 'tool', toolCallId: calls[0]!.id, content: [{ type: 'text', text: 'sunny' }] },
        { role: 'tool', toolCallId: calls[1]!.id, content: [{ type: 'text', text: 'rain' }] },
      ],
      tools: [weather],
    });
    const second = await geminiAdapter.complete(followUp, geminiTarget(mock, model), callContext());
    assert.equal(second.choices[0]!.message.content, 'Received 2 function result(s): get_weather, get_weather.');
    const replayed = (lastBody()['contents'] as Json[])[1]!['parts'] as Json[];
    assert.equal(typeof replayed[0]!['thoughtSignature'], 'string');
    assert.notEqual(replayed[0]!['thoughtSignature'], 'skip_thought_signature_validator');
    assert.equal(replayed[1]!['thoughtSignature'], undefined, 'only the first parallel call is signed');
  });

  it('a signature is not replayed to another model: Gemini 3 gets the documented validator skip instead', async () => {
    const first = chatRequest({ messages: [userText('Weather? [tool]')], tools: [weather] });
    const issued = await geminiAdapter.complete(first, geminiTarget(mock, 'gemini-3-flash-preview'), callContext());
    const call = issued.choices[0]!.message.toolCalls![0]!;
    const followUp = chatRequest({
      messages: [
        userText('Weather? [tool]'),
        { role: 'assistant', content: [], toolCalls: [call] },
        { role: 'tool', toolCallId: call.id, content: [{ type: 'text', text: 'sunny' }] },
      ],
      tools: [weather],
    });
    // The mock answers 400 "Corrupted thought signature" if a signature reaches another model.
    const response = await geminiAdapter.complete(followUp, geminiTarget(mock, 'gemini-3-pro-preview'), callContext());
    assert.equal(response.choices[0]!.message.content, 'Received 1 function result(s): get_weather.');
    const parts = (lastBody()['contents'] as Json[])[1]!['parts'] as Json[];
    assert.equal(parts[0]!['thoughtSignature'], 'skip_thought_signature_validator');
  });

  it('tool calls minted elsewhere (another provider) still work on Gemini 3', async () => {
    const followUp = chatRequest({
      messages: [
        userText('Weather? [tool]'),
        {
          role: 'assistant',
          content: [],
          toolCalls: [{ id: 'toolu_01abc', name: 'get_weather', arguments: '{"city":"Oslo"}' }],
        },
        { role: 'tool', toolCallId: 'toolu_01abc', content: [{ type: 'text', text: 'snow' }] },
      ],
      tools: [weather],
    });
    const response = await geminiAdapter.complete(
      followUp,
      geminiTarget(mock, 'gemini-3-flash-preview'),
      callContext(),
    );
    assert.equal(response.choices[0]!.message.content, 'Received 1 function result(s): get_weather.');
  });

  it('a tool message answering no known call is an invalid request', async () => {
    const request = chatRequest({
      messages: [userText('x'), { role: 'tool', toolCallId: 'call_missing', content: [{ type: 'text', text: '1' }] }],
    });
    await assert.rejects(
      geminiAdapter.complete(request, geminiTarget(mock), callContext()),
      (err: unknown) =>
        err instanceof GatewayError && err.code === 'invalid_request' && err.param === 'messages[1].tool_call_id',
    );
  });
});

describe('gemini adapter: streaming', () => {
  it('text: start, deltas, finish and cumulative usage; the same text and usage as the non-streaming answer', async () => {
    const request = chatRequest({ messages: [userText('Stream a reply for me')], stream: true });
    const events = await collect(await geminiAdapter.stream(request, geminiTarget(mock), callContext()));
    assert.equal(events[0]!.type, 'start');
    assert.ok(events.filter((e) => e.type === 'text').length >= 2);
    assert.equal(textOf(events), 'Mock Gemini reply to: Stream a reply for me');
    const finishes = events.filter((e) => e.type === 'finish');
    assert.deepEqual(finishes, [{ type: 'finish', choice: 0, reason: 'stop' }]);
    const usage = events.filter((e) => e.type === 'usage').at(-1) as Extract<StreamEvent, { type: 'usage' }>;
    const complete = await geminiAdapter.complete({ ...request, stream: false }, geminiTarget(mock), callContext());
    assert.equal(complete.choices[0]!.message.content, textOf(events));
    assert.deepEqual(usage.usage, complete.usage);
    assert.equal(mock.requests.at(-2)!.query['alt'], 'sse');
    assert.equal(mock.requests.at(-2)!.path, '/v1beta/models/gemini-2.5-flash:streamGenerateContent');
  });

  it('tool calls: one tool-call event per call, with id, name and the whole arguments', async () => {
    const request = chatRequest({ messages: [userText('Weather [parallel]')], tools: [weather], stream: true });
    const events = await collect(
      await geminiAdapter.stream(request, geminiTarget(mock, 'gemini-3-pro-preview'), callContext()),
    );
    const calls = events.filter((e) => e.type === 'tool-call');
    assert.equal(calls.length, 2);
    assert.deepEqual(
      calls.map((c) => [c.index, c.name, JSON.parse(c.argumentsDelta)]),
      [
        [0, 'get_weather', { city: 'alpha', source: 'alpha', unit: 'c', days: 1 }],
        [1, 'get_weather', { city: 'alpha-1', source: 'alpha-1', unit: 'f', days: 2 }],
      ],
    );
    const complete = await geminiAdapter.complete(
      { ...request, stream: false },
      geminiTarget(mock, 'gemini-3-pro-preview'),
      callContext(),
    );
    assert.deepEqual(
      calls.map((c) => c.id),
      complete.choices[0]!.message.toolCalls!.map((c) => c.id),
      'streamed and complete answers carry the same ids',
    );
    assert.deepEqual(events.filter((e) => e.type === 'finish').at(0), {
      type: 'finish',
      choice: 0,
      reason: 'tool_calls',
    });
  });

  it('reasoning: thought parts stream as reasoning events before the text', async () => {
    const request = chatRequest({ messages: [userText('Think')], reasoning: { budgetTokens: 2048 }, stream: true });
    const events = await collect(await geminiAdapter.stream(request, geminiTarget(mock), callContext()));
    const kinds = events.map((e) => e.type).filter((t) => t === 'reasoning' || t === 'text');
    assert.equal(kinds[0], 'reasoning');
    assert.ok(kinds.includes('text'));
    assert.deepEqual((lastBody()['generationConfig'] as Json)['thinkingConfig'], {
      includeThoughts: true,
      thinkingBudget: 2048,
    });
  });

  it('a stream cut mid-way (socket reset) → retryable error after the delivered events, usage kept', async () => {
    mock.faults.push({ kind: 'reset-mid-stream', afterEvents: 1 });
    const request = chatRequest({ messages: [userText('This will be cut short')], stream: true });
    const { events, error } = await collectUntilError(
      await geminiAdapter.stream(request, geminiTarget(mock), callContext()),
    );
    assert.ok(error instanceof GatewayError, String(error));
    assert.equal(error.code, 'provider_unavailable');
    assert.equal(error.retryable, true);
    assert.equal(textOf(events), 'Mock Gemini reply ');
    const usage = events.filter((e) => e.type === 'usage');
    assert.equal(usage.length, 1, 'the delivered part is metered');
  });

  it('a malformed event → provider_unavailable', async () => {
    mock.faults.push({ kind: 'malformed-stream', afterEvents: 1 });
    const request = chatRequest({ stream: true });
    const { error } = await collectUntilError(await geminiAdapter.stream(request, geminiTarget(mock), callContext()));
    assert.ok(error instanceof GatewayError && error.code === 'provider_unavailable', String(error));
  });

  it('a stream that ends cleanly without a finishReason → provider_unavailable', async () => {
    const request = chatRequest({ messages: [userText('No end [no_finish]')], stream: true });
    const { events, error } = await collectUntilError(
      await geminiAdapter.stream(request, geminiTarget(mock), callContext()),
    );
    assert.ok(error instanceof GatewayError && error.code === 'provider_unavailable', String(error));
    assert.match((error as GatewayError).message, /before finishing/);
    assert.ok(textOf(events).length > 0);
  });

  it('an error event inside the stream is mapped by its own status (503 → provider_unavailable)', async () => {
    const request = chatRequest({ messages: [userText('Go [stream_error]')], stream: true });
    const { error } = await collectUntilError(await geminiAdapter.stream(request, geminiTarget(mock), callContext()));
    assert.ok(error instanceof GatewayError, String(error));
    assert.equal(error.code, 'provider_unavailable');
    assert.equal(error.upstreamStatus, 503);
  });

  it('stall mid-stream → timeout once the silence outlasts the first-byte timeout', async () => {
    mock.faults.push({ kind: 'stall-mid-stream', afterEvents: 1 });
    const target = geminiTarget(mock);
    target.provider.timeouts = { connectMs: 1_000, firstByteMs: 300, totalMs: 5_000 };
    const request = chatRequest({ stream: true });
    const { error } = await collectUntilError(await geminiAdapter.stream(request, target, callContext()));
    assert.ok(error instanceof GatewayError, String(error));
    assert.ok(error.retryable);
  });
});

describe('gemini adapter: upstream errors', () => {
  it('429 with RetryInfo → rate_limited, retryAfter from retryDelay', async () => {
    mock.faults.push({ kind: 'status', status: 429 });
    await assert.rejects(geminiAdapter.complete(chatRequest(), geminiTarget(mock), callContext()), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'rate_limited');
      assert.equal(err.retryable, true);
      assert.equal(err.retryAfter, 35);
      assert.equal(err.upstreamStatus, 429);
      return true;
    });
  });

  it('503 before a stream starts → provider_unavailable from stream()', async () => {
    mock.faults.push({ kind: 'status', status: 503 });
    await assert.rejects(
      geminiAdapter.stream(chatRequest({ stream: true }), geminiTarget(mock), callContext()),
      (err: unknown) =>
        err instanceof GatewayError && err.code === 'provider_unavailable' && err.upstreamStatus === 503,
    );
  });

  it('a rejected key → authentication_failed, key out of rotation, and the key is never in the message', async () => {
    const secret = 'AIzaSyWRONG-wrong-wrong-wrong-wrong-123';
    await assert.rejects(
      geminiAdapter.complete(chatRequest(), geminiTarget(mock, 'gemini-2.5-flash', { secret }), callContext()),
      (err: unknown) => {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.code, 'authentication_failed');
        assert.equal(err.keyRejected, true);
        assert.equal(err.failover, true);
        assert.ok(!err.message.includes(secret));
        return true;
      },
    );
  });

  it('unknown model → not_found with failover', async () => {
    await assert.rejects(
      geminiAdapter.complete(chatRequest(), geminiTarget(mock, 'palm-2'), callContext()),
      (err: unknown) => err instanceof GatewayError && err.code === 'not_found' && err.failover,
    );
  });

  it('a garbage 200 body → provider_unavailable; a reset before answering → provider_unavailable', async () => {
    mock.faults.push({ kind: 'garbage-body' }, { kind: 'reset' });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(
        geminiAdapter.complete(chatRequest(), geminiTarget(mock), callContext()),
        (err: unknown) => err instanceof GatewayError && err.code === 'provider_unavailable',
      );
    }
  });

  it('a body cut in the middle → retryable error', async () => {
    mock.faults.push({ kind: 'reset-mid-stream', afterEvents: 0 });
    await assert.rejects(
      geminiAdapter.complete(chatRequest(), geminiTarget(mock), callContext()),
      (err: unknown) => err instanceof GatewayError && err.retryable,
    );
  });
});
