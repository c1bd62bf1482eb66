import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayError } from '../../../src/core/errors.ts';
import type { FinishReason, StreamEvent, Usage } from '../../../src/core/ir.ts';
import { parseAnthropicResponse } from '../../../src/providers/anthropic/parse-anthropic-response.ts';
import { AnthropicStreamTranslator } from '../../../src/providers/anthropic/translate-anthropic-stream.ts';
import { fixtureEvents, fixtureJSON } from '../../mocks/anthropic.ts';

/**
 * Every recorded Anthropic text / tool / thinking / refusal stream replayed through the stream translator,
 * and every recorded body through the response parser, each against the IR result it must produce.
 */

interface Assembled {
  starts: Array<{ id: string; model: string }>;
  text: string;
  reasoning: Array<{ text: string; signature?: string; redactedData?: string }>;
  toolCalls: Array<{ id: string; name: string; arguments: string }>;
  refusal: string;
  finish: FinishReason | undefined;
  stopSequence: string | undefined;
  usage: Usage | undefined;
  usageEvents: number;
}

/** What a client of the IR would build from the events (the way the OpenAI renderer reads them). */
function assemble(events: StreamEvent[]): Assembled {
  const out: Assembled = {
    starts: [],
    text: '',
    reasoning: [],
    toolCalls: [],
    refusal: '',
    finish: undefined,
    stopSequence: undefined,
    usage: undefined,
    usageEvents: 0,
  };
  let openReasoning: Assembled['reasoning'][number] | undefined;
  for (const event of events) {
    switch (event.type) {
      case 'start':
        out.starts.push({ id: event.id, model: event.model });
        break;
      case 'text':
        out.text += event.delta;
        break;
      case 'reasoning':
        if (event.redactedData !== undefined) {
          out.reasoning.push({ text: '', redactedData: event.redactedData });
          openReasoning = undefined;
          break;
        }
        if (!openReasoning) {
          openReasoning = { text: '' };
          out.reasoning.push(openReasoning);
        }
        openReasoning.text += event.delta;
        if (event.signature) {
          openReasoning.signature = event.signature;
          openReasoning = undefined;
        }
        break;
      case 'tool-call':
        if (event.id !== undefined)
          out.toolCalls[event.index] = { id: event.id, name: event.name ?? '', arguments: '' };
        out.toolCalls[event.index]!.arguments += event.argumentsDelta;
        break;
      case 'refusal':
        out.refusal += event.delta;
        break;
      case 'finish':
        out.finish = event.reason;
        out.stopSequence = event.stopSequence;
        break;
      case 'usage':
        out.usage = event.usage;
        out.usageEvents++;
        break;
      case 'logprobs':
        break;
    }
  }
  return out;
}

function replay(name: string, jsonToolName?: string): { events: StreamEvent[]; error?: unknown; complete: boolean } {
  const translator = new AnthropicStreamTranslator(
    jsonToolName === undefined ? { label: 'anthropic' } : { label: 'anthropic', jsonToolName },
  );
  const events: StreamEvent[] = [];
  try {
    for (const event of fixtureEvents(name)) events.push(...translator.push(event, String(event['type'])));
    translator.end();
  } catch (error) {
    return { events, error, complete: translator.complete };
  }
  return { events, complete: translator.complete };
}

function usage(input: number, output: number, cached = 0, write = 0, reasoning = 0): Usage {
  return {
    inputTokens: input,
    cachedInputTokens: cached,
    cacheWriteTokens: write,
    outputTokens: output,
    reasoningTokens: reasoning,
  };
}

function textDeltas(name: string): string {
  return fixtureEvents(name)
    .filter((e) => e['type'] === 'content_block_delta' && (e['delta'] as { type: string }).type === 'text_delta')
    .map((e) => (e['delta'] as { text: string }).text)
    .join('');
}

describe('recorded streams → IR events', () => {
  test('anthropic-text', () => {
    const { events, error } = replay('anthropic-text');
    assert.equal(error, undefined);
    const result = assemble(events);
    assert.deepEqual(result.starts, [{ id: 'msg_01QC4g3HwBThD4BaNtBckFDJ', model: 'claude-sonnet-4-5-20250929' }]);
    assert.equal(
      result.text,
      "Hello! I'm doing well, thank you for asking. How are you doing today? Is there anything I can help you with?",
    );
    assert.equal(result.finish, 'stop');
    assert.deepEqual(result.usage, usage(12, 30));
    assert.equal(result.usageEvents, 2, 'usage from message_start and from message_delta');
    assert.deepEqual(
      events.map((e) => e.type).filter((t, i, all) => t !== all[i - 1]),
      ['start', 'usage', 'text', 'finish', 'usage'],
    );
  });

  test('anthropic-tool-no-args: text, then a tool call with no arguments gets {}', () => {
    const result = assemble(replay('anthropic-tool-no-args').events);
    assert.equal(result.text, "I'll update the issue list for you.");
    assert.deepEqual(result.toolCalls, [
      { id: 'toolu_01QE1WLsSVp5hy5Q3GmGTmjP', name: 'updateIssueList', arguments: '{}' },
    ]);
    assert.equal(result.finish, 'tool_calls');
    assert.deepEqual(result.usage, usage(565, 48));
  });

  test('anthropic-json-tool.1 in JSON-tool mode: the tool input is the text, finish is stop', () => {
    const result = assemble(replay('anthropic-json-tool.1', 'json').events);
    assert.equal(result.text, '{"elements": [{"location": "San Francisco", "temperature": 58, "condition": "sunny"}]}');
    assert.deepEqual(result.toolCalls, []);
    assert.equal(result.finish, 'stop');
    assert.deepEqual(result.usage, usage(849, 47));
  });

  test('anthropic-json-tool.1 without JSON-tool mode: an ordinary tool call', () => {
    const result = assemble(replay('anthropic-json-tool.1').events);
    assert.deepEqual(result.toolCalls, [
      {
        id: 'toolu_01KFbKqPYSuAKujiL6mTfzYA',
        name: 'json',
        arguments: '{"elements": [{"location": "San Francisco", "temperature": 58, "condition": "sunny"}]}',
      },
    ]);
    assert.equal(result.finish, 'tool_calls');
  });

  test('anthropic-json-tool.2 in JSON-tool mode: the prose before the tool is left out', () => {
    const result = assemble(replay('anthropic-json-tool.2', 'json').events);
    assert.equal(result.text, '{"elements": [{"location": "San Francisco", "temperature": 58, "condition": "sunny"}]}');
    assert.equal(result.finish, 'stop');
  });

  test('anthropic-json-other-tool.1 in JSON-tool mode: a real tool call stays a tool call', () => {
    const result = assemble(replay('anthropic-json-other-tool.1', 'json').events);
    assert.equal(result.text, '');
    assert.deepEqual(result.toolCalls, [
      { id: 'toolu_019Zvehfe1XQWweT1pm7okyt', name: 'weather', arguments: '{"location": "San Francisco"}' },
    ]);
    assert.equal(result.finish, 'tool_calls');
    assert.deepEqual(result.usage, usage(843, 28));
  });

  test('anthropic-clear-thinking.1: thinking deltas and the signature, then text', () => {
    const result = assemble(replay('anthropic-clear-thinking.1').events);
    assert.equal(result.reasoning.length, 1);
    assert.equal(
      result.reasoning[0]!.text,
      'The previous result was 925. Now I need to divide that by 5.\n\n925 ÷ 5 = 185',
    );
    assert.match(result.reasoning[0]!.signature!, /^EvQBCkYICxgCKkAxhD4N/);
    assert.equal(result.text, '925 ÷ 5 = 185');
    assert.equal(result.finish, 'stop');
    assert.deepEqual(result.usage, usage(69, 53));
  });

  test('anthropic-message-delta-input-tokens: message_delta updates the input count', () => {
    const result = assemble(replay('anthropic-message-delta-input-tokens').events);
    assert.equal(result.text, 'pong');
    assert.deepEqual(result.usage, usage(61, 2));
  });

  test('duplicate-message-start: the repeated start is ignored', () => {
    const { events, error } = replay('duplicate-message-start');
    assert.equal(error, undefined);
    const result = assemble(events);
    assert.equal(result.starts.length, 1);
    assert.equal(result.text, 'Hello, World!');
    assert.deepEqual(result.usage, usage(17, 227));
  });

  test('spliced-message-start: a second message in one stream is a provider_unavailable error', () => {
    const { events, error } = replay('spliced-message-start');
    assert.ok(error instanceof GatewayError);
    assert.equal(error.code, 'provider_unavailable');
    assert.equal(error.retryable, true);
    const result = assemble(events);
    assert.deepEqual(result.starts, [{ id: 'msg_first', model: 'claude-3-haiku-20240307' }]);
    assert.equal(result.finish, undefined, 'no finish was reported');
    assert.equal(result.toolCalls[0]!.id, 'toolu_first');
  });

  test('anthropic-refusal: content_filter with the explanation as refusal text', () => {
    const result = assemble(replay('anthropic-refusal').events);
    assert.equal(result.text, '');
    assert.equal(result.finish, 'content_filter');
    assert.equal(
      result.refusal,
      "This request triggered restrictions on violative cyber content and was blocked under Anthropic's Usage Policy.",
    );
    assert.deepEqual(result.usage, usage(18, 5));
  });

  test('anthropic-fallback: the fallback marker block is skipped, usage is the final totals', () => {
    const result = assemble(replay('anthropic-fallback').events);
    assert.equal(result.text, 'The printing press was invented by Johannes Gutenberg around 1440.');
    assert.deepEqual(result.usage, usage(412, 264));
  });

  test('anthropic-clear-tool-uses.1: text only', () => {
    const result = assemble(replay('anthropic-clear-tool-uses.1').events);
    assert.ok(result.text.startsWith("\n\nHere's a comparison of the weather in both cities:"));
    assert.equal(result.text, textDeltas('anthropic-clear-tool-uses.1'));
    assert.deepEqual(result.usage, usage(859, 122));
  });

  test('server-tool streams (code execution, MCP, web search): server blocks skipped, cache usage priced apart', () => {
    const code = assemble(replay('anthropic-code-execution-20260120-prompt-cache.1').events);
    assert.deepEqual(code.toolCalls, [], 'server_tool_use is not a client tool call');
    assert.equal(code.text, textDeltas('anthropic-code-execution-20260120-prompt-cache.1'));
    assert.deepEqual(code.usage, usage(6 + 3337 + 6289, 198, 6289, 3337, 0));
    assert.equal(code.finish, 'stop');
    const mcp = assemble(replay('anthropic-mcp.1').events);
    assert.deepEqual(mcp.toolCalls, []);
    assert.ok(mcp.text.startsWith('The echo tool responded back with: **hello world**'));
    assert.deepEqual(mcp.usage, usage(1250, 83));
    const search = assemble(replay('anthropic-web-search-tool.1').events);
    assert.deepEqual(search.toolCalls, []);
    assert.equal(search.text, textDeltas('anthropic-web-search-tool.1'));
    assert.deepEqual(search.usage, usage(15665, 795));
  });

  test('a stream that ends without message_stop is an error, after everything delivered', () => {
    const translator = new AnthropicStreamTranslator({ label: 'anthropic' });
    const events = fixtureEvents('anthropic-text').slice(0, -1);
    for (const event of events) translator.push(event);
    assert.throws(
      () => translator.end(),
      (err: unknown) =>
        err instanceof GatewayError && err.code === 'provider_unavailable' && /message_stop/.test(err.message),
    );
  });

  test('an error event throws the mapped GatewayError', () => {
    const translator = new AnthropicStreamTranslator({ label: 'anthropic' });
    translator.push(fixtureEvents('anthropic-text')[0]!);
    assert.throws(
      () => translator.push({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }),
      (err: unknown) =>
        err instanceof GatewayError && err.code === 'provider_unavailable' && err.upstreamStatus === 529,
    );
    const other = new AnthropicStreamTranslator({ label: 'anthropic' });
    assert.throws(
      () =>
        other.push({
          type: 'error',
          error: { type: 'invalid_request_error', message: 'prompt is too long: 9 tokens > 8 maximum' },
        }),
      (err: unknown) => err instanceof GatewayError && err.code === 'context_length_exceeded',
    );
  });

  test('redacted thinking and a stop sequence', () => {
    const translator = new AnthropicStreamTranslator({ label: 'anthropic' });
    const events = [
      {
        type: 'message_start',
        message: { id: 'msg_x', model: 'claude-haiku-4-5', usage: { input_tokens: 5, output_tokens: 1 } },
      },
      { type: 'content_block_start', index: 0, content_block: { type: 'redacted_thinking', data: 'EmwKAhgBEgy' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'one two' } },
      { type: 'content_block_stop', index: 1 },
      {
        type: 'message_delta',
        delta: { stop_reason: 'stop_sequence', stop_sequence: 'three' },
        usage: { output_tokens: 9, output_tokens_details: { thinking_tokens: 6 } },
      },
      { type: 'message_stop' },
    ];
    const out = assemble(events.flatMap((e) => translator.push(e)));
    translator.end();
    assert.deepEqual(out.reasoning, [{ text: '', redactedData: 'EmwKAhgBEgy' }]);
    assert.equal(out.finish, 'stop');
    assert.equal(out.stopSequence, 'three');
    assert.deepEqual(out.usage, usage(5, 9, 0, 0, 6));
  });
});

describe('recorded bodies → IR response', () => {
  const parse = (name: string, jsonToolName?: string) =>
    parseAnthropicResponse(
      JSON.parse(fixtureJSON(name)),
      'anthropic',
      jsonToolName === undefined ? {} : { jsonToolName },
    );

  test('anthropic-text', () => {
    const response = parse('anthropic-text');
    assert.equal(response.id, 'msg_01VdEjxAP5ahtHKrrRdNBteQ');
    assert.equal(response.model, 'claude-sonnet-4-5-20250929');
    assert.deepEqual(response.choices, [
      {
        index: 0,
        message: {
          content:
            "Hello! I'm doing well, thanks for asking. How are you doing today? Is there anything I can help you with?",
        },
        finishReason: 'stop',
      },
    ]);
    assert.deepEqual(response.usage, usage(12, 29));
    assert.equal(response.serviceTier, 'standard');
  });

  test('anthropic-tool-no-args', () => {
    const choice = parse('anthropic-tool-no-args').choices[0]!;
    assert.equal(choice.finishReason, 'tool_calls');
    assert.deepEqual(choice.message.toolCalls, [
      { id: 'toolu_01LRmxn9vGM1d2DZSDBowdZ1', name: 'updateIssueList', arguments: '{}' },
    ]);
    assert.match(choice.message.content!, /^<thinking>/);
  });

  test('anthropic-refusal and anthropic-refusal-no-details', () => {
    const refusal = parse('anthropic-refusal').choices[0]!;
    assert.equal(refusal.finishReason, 'content_filter');
    assert.equal(refusal.message.content, null);
    assert.match(refusal.message.refusal!, /violative cyber content/);
    const bare = parse('anthropic-refusal-no-details').choices[0]!;
    assert.equal(bare.finishReason, 'content_filter');
    assert.equal(bare.message.refusal, null);
  });

  test('anthropic-json-tool.1 in JSON-tool mode and anthropic-json-other-tool.1', () => {
    const json = parse('anthropic-json-tool.1', 'json').choices[0]!;
    assert.equal(json.finishReason, 'stop');
    assert.deepEqual(JSON.parse(json.message.content!), {
      elements: [
        { location: 'San Francisco', temperature: -5, condition: 'snowy' },
        { location: 'London', temperature: 0, condition: 'snowy' },
        { location: 'Paris', temperature: 23, condition: 'cloudy' },
        { location: 'Berlin', temperature: -9, condition: 'snowy' },
      ],
    });
    assert.equal(json.message.toolCalls, undefined);
    const other = parse('anthropic-json-other-tool.1', 'json').choices[0]!;
    assert.equal(other.finishReason, 'tool_calls');
    assert.equal(other.message.toolCalls?.[0]?.name, 'weather');
  });

  test('anthropic-json-output-format.1: structured output arrives as text', () => {
    const choice = parse('anthropic-json-output-format.1').choices[0]!;
    assert.equal(JSON.parse(choice.message.content!).recipe.name, 'Classic Lasagna');
  });

  test('anthropic-clear-thinking.1 and anthropic-claude-opus-5-reasoning-high.1: reasoning with signature, thinking tokens', () => {
    const thinking = parse('anthropic-clear-thinking.1').choices[0]!;
    assert.equal(thinking.message.reasoning?.[0]?.text, '925 divided by 5 = 185');
    assert.match(thinking.message.reasoning![0]!.signature!, /^Er4BCkYICxgC/);
    assert.equal(thinking.message.content, '925 ÷ 5 = 185');
    const opus = parse('anthropic-claude-opus-5-reasoning-high.1');
    assert.deepEqual(opus.usage, usage(51, 1699, 0, 0, 139));
    assert.equal(opus.choices[0]!.message.reasoning?.length, 1);
  });

  test('anthropic-fallback, anthropic-mcp.1, anthropic-web-search-tool.1: only text and usage reach the IR', () => {
    const fallback = parse('anthropic-fallback');
    assert.equal(fallback.model, 'claude-opus-4-8');
    assert.equal(
      fallback.choices[0]!.message.content,
      'The printing press was invented by Johannes Gutenberg around 1440.',
    );
    assert.deepEqual(fallback.usage, usage(412, 264));
    assert.equal(parse('anthropic-mcp.1').choices[0]!.message.toolCalls, undefined);
    const search = parse('anthropic-web-search-tool.1').choices[0]!;
    assert.equal(search.message.toolCalls, undefined);
    assert.ok((search.message.content ?? '').length > 100);
  });

  test('a body that is not a message is provider_unavailable', () => {
    assert.throws(
      () => parseAnthropicResponse({ hello: 'world' }, 'anthropic'),
      (err: unknown) => err instanceof GatewayError && err.code === 'provider_unavailable',
    );
  });
});
