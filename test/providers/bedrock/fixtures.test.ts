/**
 * Every recorded Bedrock sample (test/fixtures/wire/amazon-bedrock, from the Vercel AI SDK) replayed through
 * the translators: chunks files re-framed in binary and run through the event-stream decoder and the stream
 * converter, JSON files through the response converter, each against the IR it must produce.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { GatewayError } from '../../../src/core/errors.ts';
import type { ChatResponse, StreamEvent } from '../../../src/core/ir.ts';
import { bedrockAdapter } from '../../../src/providers/bedrock/adapter.ts';
import type { BedrockConverseResponse } from '../../../src/providers/bedrock/bedrock-api-types.ts';
import { convertBedrockResponse } from '../../../src/providers/bedrock/convert-bedrock-response.ts';
import { convertBedrockStream } from '../../../src/providers/bedrock/convert-bedrock-stream.ts';
import { decodeEventStream } from '../../../src/providers/bedrock/decode-event-stream.ts';
import { DEFAULT_UPSTREAM_LIMITS } from '../../helpers/upstream-limits.ts';
import { encodeEvent, FIXTURE_DIR, readFixtureBody, readFixtureEvents, startMockBedrock } from '../../mocks/bedrock.ts';
import { chat, collect, ctx, type FoldedStream, fold, target } from './helpers.ts';

const USAGE = (input: number, output: number) => ({
  inputTokens: input,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: output,
  reasoningTokens: 0,
});

async function* bytes(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

/** Replays a chunks fixture as binary frames, one network chunk per frame. */
async function replay(name: string, jsonToolName?: string): Promise<{ events: StreamEvent[]; error?: unknown }> {
  const frames = readFixtureEvents(name).map(([type, payload]) => encodeEvent(type, payload));
  const stream = convertBedrockStream(decodeEventStream(bytes(frames), 'bedrock', DEFAULT_UPSTREAM_LIMITS), {
    id: 'id-1',
    model: 'm',
    created: 1,
    label: 'bedrock',
    ...(jsonToolName ? { jsonToolName } : {}),
  });
  const events: StreamEvent[] = [];
  try {
    for await (const event of stream) events.push(event);
    return { events };
  } catch (error) {
    return { events, error };
  }
}

function response(name: string, jsonToolName?: string): ChatResponse {
  const body = JSON.parse(readFixtureBody(name)) as BedrockConverseResponse;
  return convertBedrockResponse(body, {
    id: 'id-1',
    model: 'm',
    created: 1,
    label: 'bedrock',
    ...(jsonToolName ? { jsonToolName } : {}),
  });
}

const REASONING_TEXT =
  'Let me count the r\'s in "strawberry":\n\ns-t-r-a-w-b-e-r-r-y\n\nr appears at positions 3, 8, and 9.\n\nSo there are 3 r\'s.';
const REASONING_SIGNATURE =
  'Ep0CCkgICxABGAIqQOWPB6/PmA5SW9jC6FvaNq3E+U9ev4FMWcFWuAho+VGLCtazKc5WDjQ5i0MuxsY0o5pKDSVWVKii8KJDusXH4eASDK7jyzuk8iij7fJNihoMxHO9haYzt48R36HVIjCb/EmIFrJLIXShqN6DN//T6vZBtO9qj1QhNWJa3CGm8VZoq80S2/Ok4U0aVaIDiZcqggHC2b8BHuv8BHZrmsR0wjU1ynansBGMdfjnG+iIv8R5lPpRmYGhSVwNybwP3aQZ6o8Dr48Rau8TJfdsArW+r7bvL7bPs4f5nnlp2vG7WkMzWwABHK3fdM44zZ1GZQaWyECNWR2GfY6dXiklo94vgpFTPuZ97mfiN3LY6uYyBwL8RkDaGAE=';

/** Expected IR per chunks fixture, as a client would fold it; `cut` marks samples recorded without metadata. */
const STREAMS: Record<string, { folded: FoldedStream; cut?: true; jsonTool?: { text: string; finish: string } }> = {
  'amazon-bedrock-json-only-text-first.1': {
    folded: {
      text: 'Here is your data:',
      reasoning: '',
      signatures: [],
      toolCalls: [{ id: 'json-tool-1', name: 'json', arguments: '{"name":"John"}' }],
      finish: { reason: 'tool_calls' },
      usage: USAGE(100, 20),
    },
    jsonTool: { text: '{"name":"John"}', finish: 'stop' },
  },
  'amazon-bedrock-json-other-tool.1': {
    folded: {
      text: '',
      reasoning: '',
      signatures: [],
      toolCalls: [
        { id: 'toolu_01PQjhxo3eirCdKNvCJrKc8f', name: 'get-weather', arguments: '{"location":"San Francisco"}' },
      ],
      finish: { reason: 'tool_calls' },
      usage: USAGE(843, 28),
    },
    jsonTool: { text: '', finish: 'tool_calls' },
  },
  'amazon-bedrock-json-tool-text-then-weather-then-json.1': {
    folded: {
      text: '2 + 2 equals 4. Now let me check the weather for you.',
      reasoning: '',
      signatures: [],
      toolCalls: [
        { id: 'weather-tool-1', name: 'weather', arguments: '{"location":"San Francisco"}' },
        { id: 'weather-tool-2', name: 'weather', arguments: '{"location":"London"}' },
      ],
      finish: { reason: 'tool_calls' },
      usage: USAGE(500, 100),
    },
  },
  'amazon-bedrock-json-tool.1': {
    folded: {
      text: '',
      reasoning: '',
      signatures: [],
      toolCalls: [{ id: 'json-tool-id', name: 'json', arguments: '{"value":"test"}' }],
    },
    cut: true,
    jsonTool: { text: '{"value":"test"}', finish: '' },
  },
  'amazon-bedrock-json-tool.2': {
    folded: {
      text: 'Let me generate that JSON for you.',
      reasoning: '',
      signatures: [],
      toolCalls: [{ id: 'json-tool-id', name: 'json', arguments: '{"value":"test"}' }],
    },
    cut: true,
    jsonTool: { text: '{"value":"test"}', finish: '' },
  },
  'amazon-bedrock-json-tool.3': {
    folded: {
      text: 'First text block.Second text block.Third block.',
      reasoning: '',
      signatures: [],
      toolCalls: [{ id: 'json-tool-id', name: 'json', arguments: '{"result":42}' }],
    },
    cut: true,
  },
  'amazon-bedrock-json-with-tool.1': {
    folded: {
      text: 'Calling a tool first.Now JSON.',
      reasoning: '',
      signatures: [],
      toolCalls: [
        { id: 'tool-1', name: 'get-weather', arguments: '{"location":"SF"}' },
        { id: 'json-tool-id', name: 'json', arguments: '{"result":"data"}' },
      ],
    },
    cut: true,
  },
  'amazon-bedrock-json-with-tools.1': {
    folded: {
      text: 'Multiple tools.Final JSON.',
      reasoning: '',
      signatures: [],
      toolCalls: [
        { id: 'tool-1', name: 'tool-a', arguments: '{"a":"1"}' },
        { id: 'tool-2', name: 'tool-b', arguments: '{"b":"2"}' },
        { id: 'json-tool-id', name: 'json', arguments: '{"final":"result"}' },
      ],
    },
    cut: true,
  },
  'amazon-bedrock-reasoning': {
    folded: {
      text: 'There are **3** r\'s in "strawberry":\n\n1. st**r**awbe**r****r**y',
      reasoning: REASONING_TEXT,
      signatures: [REASONING_SIGNATURE],
      toolCalls: [],
      finish: { reason: 'stop' },
      usage: USAGE(51, 94),
    },
  },
  'amazon-bedrock-text': {
    folded: {
      text: 'Let me count the "r"s in "strawberry":\n\ns-t-**r**-a-w-b-e-**r**-**r**-y\n\nThere are **3** r\'s in "strawberry."',
      reasoning: '',
      signatures: [],
      toolCalls: [],
      finish: { reason: 'stop' },
      usage: USAGE(22, 55),
    },
  },
  'amazon-bedrock-tool-call.1': {
    folded: {
      text: '',
      reasoning: '',
      signatures: [],
      toolCalls: [{ id: 'tool-use-id', name: 'test-tool', arguments: '{"value":"Sparkle Day"}' }],
      finish: { reason: 'tool_calls' },
      usage: USAGE(125, 45),
    },
  },
  'amazon-bedrock-tool-no-args': {
    folded: {
      text: "I'll update the issue list for you.",
      reasoning: '',
      signatures: [],
      toolCalls: [{ id: 'tool-use-id', name: 'updateIssueList', arguments: '{}' }],
      finish: { reason: 'tool_calls' },
      usage: USAGE(100, 25),
    },
  },
};

describe('recorded Bedrock streams through the event-stream decoder', () => {
  it('covers every chunks fixture on disk', () => {
    const onDisk = readdirSync(FIXTURE_DIR)
      .filter((file) => file.endsWith('.chunks.txt'))
      .map((file) => file.replace('.chunks.txt', ''))
      .sort();
    assert.deepEqual(onDisk, Object.keys(STREAMS).sort());
  });

  for (const [name, expected] of Object.entries(STREAMS)) {
    it(`${name} → expected IR`, async () => {
      const { events, error } = await replay(name);
      assert.deepEqual(events[0], { type: 'start', id: 'id-1', model: 'm', created: 1 });
      assert.deepEqual(fold(events), expected.folded);
      if (expected.cut) {
        // Recorded without the closing metadata event: the stream was cut before its usage.
        assert.ok(error instanceof GatewayError);
        assert.equal(error.code, 'provider_unavailable');
        assert.ok(!events.some((e) => e.type === 'finish'), 'no finish without usage');
      } else {
        assert.equal(error, undefined);
        // Usage is always last (as cumulative usage) and the finish comes exactly once.
        assert.equal(events.filter((e) => e.type === 'finish').length, 1);
      }
    });
    if (expected.jsonTool) {
      it(`${name} in json_schema tool mode → the json tool's input is the text`, async () => {
        const { events } = await replay(name, 'json');
        const folded = fold(events);
        assert.equal(folded.text, expected.jsonTool!.text);
        assert.ok(folded.toolCalls.every((call) => call.name !== 'json'));
        assert.equal(folded.finish?.reason ?? '', expected.jsonTool!.finish);
      });
    }
  }

  it('amazon-bedrock-tool-call.1 → the exact event sequence', async () => {
    const { events } = await replay('amazon-bedrock-tool-call.1');
    assert.deepEqual(events, [
      { type: 'start', id: 'id-1', model: 'm', created: 1 },
      { type: 'tool-call', choice: 0, index: 0, id: 'tool-use-id', name: 'test-tool', argumentsDelta: '' },
      { type: 'tool-call', choice: 0, index: 0, argumentsDelta: '{"value":' },
      { type: 'tool-call', choice: 0, index: 0, argumentsDelta: '"Sparkle Day"}' },
      { type: 'usage', usage: USAGE(125, 45) },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
    ]);
  });

  it('replays through the mock and the adapter end to end', async () => {
    const mock = await startMockBedrock();
    try {
      const request = chat({
        stream: true,
        messages: [{ role: 'user', content: [{ type: 'text', text: '[[fixture:amazon-bedrock-reasoning]]' }] }],
      });
      const folded = fold(await collect(await bedrockAdapter.stream(request, target(mock), ctx())));
      assert.deepEqual(folded, STREAMS['amazon-bedrock-reasoning']!.folded);
      const json = await bedrockAdapter.complete({ ...request, stream: false }, target(mock), ctx());
      assert.equal(json.choices[0]!.message.reasoning?.[0]?.signature?.slice(0, 12), 'EvYBCkgICxAB');
    } finally {
      await mock.close();
    }
  });
});

describe('recorded Bedrock responses through the response converter', () => {
  const call = (id: string, name: string, args: unknown) => ({ id, name, arguments: JSON.stringify(args) });

  it('amazon-bedrock-text', () => {
    const r = response('amazon-bedrock-text');
    assert.deepEqual(r.choices, [
      {
        index: 0,
        message: {
          content:
            'Let me count the "r"s in "strawberry":\n\ns-t-**r**-a-w-b-e-**r**-**r**-y\n\nThere are **3** "r"s in "strawberry."',
        },
        finishReason: 'stop',
      },
    ]);
    assert.deepEqual(r.usage, USAGE(22, 57));
    assert.equal(r.id, 'id-1');
  });

  it('amazon-bedrock-reasoning', () => {
    const r = response('amazon-bedrock-reasoning');
    const message = r.choices[0]!.message;
    assert.equal(message.reasoning?.length, 1);
    assert.equal(
      message.reasoning![0]!.text,
      'Let me count the r\'s in "strawberry":\n\ns-t-r-a-w-b-e-r-r-y\n\nThere are 3 r\'s.',
    );
    assert.match(message.reasoning![0]!.signature!, /^EvYBCkgICxABGAIqQA9E9VC377/);
    assert.equal(message.content, 'There are **3** r\'s in "strawberry":\n\n1. st**r**awbe**r****r**y');
    assert.deepEqual(r.usage, USAGE(51, 78));
  });

  it('amazon-bedrock-tool-call.1', () => {
    const r = response('amazon-bedrock-tool-call.1');
    assert.deepEqual(r.choices[0], {
      index: 0,
      message: { content: null, toolCalls: [call('tool-use-id', 'bash', { command: 'ls -l' })] },
      finishReason: 'tool_calls',
    });
    assert.deepEqual(r.usage, USAGE(10, 20));
  });

  it('amazon-bedrock-tool-no-args', () => {
    const r = response('amazon-bedrock-tool-no-args');
    assert.deepEqual(r.choices[0]!.message, {
      content: "I'll update the issue list for you.",
      toolCalls: [call('tool-use-id', 'updateIssueList', {})],
    });
  });

  it('amazon-bedrock-json-other-tool.1', () => {
    const r = response('amazon-bedrock-json-other-tool.1', 'json');
    assert.deepEqual(r.choices[0]!.message, {
      content: null,
      toolCalls: [call('toolu_01PQjhxo3eirCdKNvCJrKc8f', 'get-weather', { location: 'San Francisco' })],
    });
    assert.equal(r.choices[0]!.finishReason, 'tool_calls');
    assert.deepEqual(r.usage, USAGE(843, 28));
  });

  it('amazon-bedrock-json-tool.1/2/3 and json-tool-with-answer.1: the json tool answers in tool mode', () => {
    const cases: Array<[string, string, unknown, string | null, number, number]> = [
      [
        'amazon-bedrock-json-tool.1',
        'json-tool-id',
        {
          elements: [
            { location: 'San Francisco', temperature: -5, condition: 'snowy' },
            { location: 'London', temperature: 0, condition: 'snowy' },
          ],
        },
        null,
        15,
        42,
      ],
      [
        'amazon-bedrock-json-tool.2',
        'json-tool-id',
        { value: 'test data' },
        'Let me generate that JSON for you.',
        12,
        28,
      ],
      [
        'amazon-bedrock-json-tool.3',
        'json-tool-id',
        { result: 42 },
        'First text block.Second text block.Third text block before JSON.',
        18,
        35,
      ],
      [
        'amazon-bedrock-json-tool-with-answer.1',
        'json-tool-id-123',
        { firstName: 'John', lastName: 'Doe' },
        '2 + 2 equals 4.',
        156,
        35,
      ],
    ];
    for (const [name, id, json, text, input, output] of cases) {
      const plain = response(name);
      assert.equal(plain.choices[0]!.message.content, text, name);
      assert.deepEqual(plain.choices[0]!.message.toolCalls, [call(id, 'json', json)]);
      assert.equal(plain.choices[0]!.finishReason, 'tool_calls');
      assert.deepEqual(plain.usage, USAGE(input, output));

      const toolMode = response(name, 'json');
      assert.deepEqual(JSON.parse(toolMode.choices[0]!.message.content!), json, name);
      assert.equal(toolMode.choices[0]!.message.toolCalls, undefined);
      assert.equal(toolMode.choices[0]!.finishReason, 'stop');
    }
  });

  it('amazon-bedrock-json-with-tool.1 and json-with-tools.1: other tools stay tool calls', () => {
    const one = response('amazon-bedrock-json-with-tool.1', 'json');
    assert.deepEqual(JSON.parse(one.choices[0]!.message.content!), { result: 'data' });
    assert.deepEqual(one.choices[0]!.message.toolCalls, [call('tool-1', 'get-weather', { location: 'SF' })]);
    assert.equal(one.choices[0]!.finishReason, 'tool_calls');
    assert.deepEqual(one.usage, USAGE(22, 48));

    const many = response('amazon-bedrock-json-with-tools.1', 'json');
    assert.deepEqual(JSON.parse(many.choices[0]!.message.content!), { final: 'result' });
    assert.deepEqual(
      many.choices[0]!.message.toolCalls?.map((c) => c.name),
      ['tool-a', 'tool-b'],
    );
    const plain = response('amazon-bedrock-json-with-tools.1');
    assert.equal(plain.choices[0]!.message.content, 'Calling multiple tools.Finally the JSON response.');
    assert.equal(plain.choices[0]!.message.toolCalls?.length, 3);
  });

  it('covers every JSON fixture on disk', () => {
    const tested = [
      'amazon-bedrock-text',
      'amazon-bedrock-reasoning',
      'amazon-bedrock-tool-call.1',
      'amazon-bedrock-tool-no-args',
      'amazon-bedrock-json-other-tool.1',
      'amazon-bedrock-json-tool.1',
      'amazon-bedrock-json-tool.2',
      'amazon-bedrock-json-tool.3',
      'amazon-bedrock-json-tool-with-answer.1',
      'amazon-bedrock-json-with-tool.1',
      'amazon-bedrock-json-with-tools.1',
    ];
    const onDisk = readdirSync(FIXTURE_DIR)
      .filter((file) => file.endsWith('.json'))
      .map((file) => file.replace('.json', ''));
    assert.deepEqual(onDisk.sort(), tested.sort());
  });
});
