import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { StreamEvent, Usage } from '../../../src/core/ir.ts';
import { convertGeminiResponse } from '../../../src/providers/gemini/convert-gemini-response.ts';
import type { GeminiResponse } from '../../../src/providers/gemini/gemini-api-types.ts';
import { GeminiStreamTranslator } from '../../../src/providers/gemini/gemini-stream-translator.ts';
import { geminiAdapter } from '../../../src/providers/gemini/index.ts';
import { decodeToolCallId } from '../../../src/providers/gemini/tool-call-ids.ts';
import { closeCallContexts } from '../../helpers/call-context.ts';
import { type MockGemini, readFixtureChunks, startMockGemini } from '../../mocks/gemini.ts';
import { callContext, chatRequest, collect, geminiTarget, textOf, userText } from './helpers.ts';

/**
 * Real Gemini responses recorded by the Vercel AI SDK (test/fixtures/wire/google) replayed through the
 * translator, with the IR each must give written out by hand.
 */

const MODEL = 'gemini-3-pro-preview';

function replay(name: string): StreamEvent[] {
  const translator = new GeminiStreamTranslator({ label: 'google', upstreamModel: MODEL, fallbackId: 'req-1' });
  const events: StreamEvent[] = [];
  for (const chunk of readFixtureChunks(name)!) events.push(...translator.push(chunk as GeminiResponse));
  events.push(...translator.end(true));
  return events;
}

function json(name: string): GeminiResponse {
  return JSON.parse(readFileSync(new URL(`../../fixtures/wire/google/${name}`, import.meta.url), 'utf8'));
}

function usage(input: number, candidates: number, thoughts: number): Usage {
  return {
    inputTokens: input,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: candidates + thoughts,
    reasoningTokens: thoughts,
  };
}

function signatureIn(name: string, line: number): string {
  const chunk = readFixtureChunks(name)![line]! as GeminiResponse;
  return chunk.candidates![0]!.content!.parts![0]!.thoughtSignature!;
}

type ToolCallEvent = Extract<StreamEvent, { type: 'tool-call' }>;
const toolCalls = (events: StreamEvent[]) => events.filter((e): e is ToolCallEvent => e.type === 'tool-call');
const lastUsage = (events: StreamEvent[]) =>
  (events.filter((e) => e.type === 'usage').at(-1) as Extract<StreamEvent, { type: 'usage' }>).usage;
const finishes = (events: StreamEvent[]) => events.filter((e) => e.type === 'finish');

describe('recorded streams through the translator', () => {
  it('google-text: text deltas, cumulative usage with thoughts, stop', () => {
    const events = replay('google-text.chunks.txt');
    assert.deepEqual(events, [
      {
        type: 'start',
        id: 'bH6LaZW8Fp_3nsEPqtaSwQ4',
        model: 'gemini-3-pro-preview',
        created: (events[0] as { created: number }).created,
      },
      { type: 'text', choice: 0, delta: 'There are **3**' },
      { type: 'usage', usage: usage(9, 5, 185) },
      { type: 'text', choice: 0, delta: ' "r"s in strawberry.\n\nst**r**awbe**rr**y' },
      { type: 'usage', usage: usage(9, 23, 185) },
      { type: 'finish', choice: 0, reason: 'stop' },
    ]);
  });

  it('google-reasoning: text, usage 9 in / 29+256 out, stop', () => {
    const events = replay('google-reasoning.chunks.txt');
    assert.equal(textOf(events), 'There are **3** "r"s in strawberry.\n\nHere is the breakdown: st**r**awbe**rr**y.');
    assert.deepEqual(lastUsage(events), usage(9, 29, 256));
    assert.deepEqual(finishes(events), [{ type: 'finish', choice: 0, reason: 'stop' }]);
    assert.equal(toolCalls(events).length, 0);
  });

  it('google-reasoning-gemini3: text, usage 9 in / 23+302 out, stop', () => {
    const events = replay('google-reasoning-gemini3.chunks.txt');
    assert.equal(textOf(events), 'There are **3** "r"s in strawberry.\n\nSt**r**awbe**rr**y');
    assert.deepEqual(lastUsage(events), usage(9, 23, 302));
    assert.deepEqual(finishes(events), [{ type: 'finish', choice: 0, reason: 'stop' }]);
  });

  for (const [name, responseId] of [
    ['google-tool-call.chunks.txt', 'b36LacjwM668nsEP2tbsgQQ'],
    ['google-tool-call-gemini3.chunks.txt', 'QHiLaa6LBrb8vdIPoNztsAg'],
  ] as const) {
    it(`${name}: one whole call, STOP after a call → tool_calls, signature kept in the id`, () => {
      const events = replay(name);
      const calls = toolCalls(events);
      assert.equal(calls.length, 1);
      assert.equal(calls[0]!.name, 'weather');
      assert.equal(calls[0]!.index, 0);
      assert.deepEqual(JSON.parse(calls[0]!.argumentsDelta), { location: 'San Francisco' });
      assert.equal(decodeToolCallId(calls[0]!.id!, MODEL).thoughtSignature, signatureIn(name, 0));
      assert.equal(replay(name).find((e) => e.type === 'tool-call')?.id, calls[0]!.id, 'stable id');
      assert.equal((events[0] as { id: string }).id, responseId);
      assert.deepEqual(finishes(events), [{ type: 'finish', choice: 0, reason: 'tool_calls' }]);
      assert.equal(textOf(events), '');
    });
  }

  it('google-stream-no-args-tool-call: thought text, a call without args, three streamed calls', () => {
    const events = replay('google-stream-no-args-tool-call.chunks.txt');
    const reasoning = events.filter((e) => e.type === 'reasoning');
    assert.equal(reasoning.length, 1);
    assert.match((reasoning[0] as { delta: string }).delta, /^\*\*Processing User Requests\*\*/);
    assert.deepEqual(
      toolCalls(events).map((c) => [c.index, c.name, JSON.parse(c.argumentsDelta)]),
      [
        [0, 'read_theme', {}],
        [1, 'read_screen', { id: 'A' }],
        [2, 'read_screen', { id: 'B' }],
        [3, 'read_screen', { id: 'C' }],
      ],
    );
    const ids = toolCalls(events).map((c) => c.id);
    assert.equal(new Set(ids).size, 4);
    // Metadata without counts (Vertex's mid-stream trafficType) gives no usage event.
    assert.equal(events.filter((e) => e.type === 'usage').length, 1);
    assert.deepEqual(lastUsage(events), usage(249, 58, 183));
    assert.deepEqual(finishes(events), [{ type: 'finish', choice: 0, reason: 'tool_calls' }]);
  });

  it('google-stream-tool-call-arguments: partialArgs assembled into two whole calls', () => {
    const events = replay('google-stream-tool-call-arguments.chunks.txt');
    assert.deepEqual(
      toolCalls(events).map((c) => [c.name, JSON.parse(c.argumentsDelta)]),
      [
        ['getWeather', { location: 'Boston' }],
        ['getWeather', { location: 'San Francisco' }],
      ],
    );
    assert.deepEqual(lastUsage(events), usage(26, 23, 132));
    assert.deepEqual(finishes(events), [{ type: 'finish', choice: 0, reason: 'tool_calls' }]);
  });

  it('array arguments with a missing terminal functionCall: closed by the last piece', () => {
    const events = replay('google-stream-tool-call-array-arguments-missing-terminal-function-call.chunks.txt');
    const calls = toolCalls(events);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.name, 'writeItems');
    assert.deepEqual(JSON.parse(calls[0]!.argumentsDelta), {
      operations: [
        { action: 'add', description: 'Fresh red apple', itemid: 'apple_001', price: 0.5 },
        { action: 'add', description: 'Ripe yellow banana', itemid: 'banana_001', price: 0.3 },
      ],
    });
    assert.deepEqual(lastUsage(events), usage(54, 74, 121));
  });

  it('nested arguments (Vertex): objects in arrays, strings appended across pieces', () => {
    const events = replay('google-vertex-stream-tool-call-arguments-nested.1.chunks.txt');
    const calls = toolCalls(events);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.name, 'cookRecipe');
    const args = JSON.parse(calls[0]!.argumentsDelta) as {
      recipe: { ingredients: Array<{ amount: string; name: string }>; name: string; steps: string[] };
    };
    assert.equal(args.recipe.name, 'Lasagna');
    assert.equal(args.recipe.ingredients.length, 10);
    assert.deepEqual(args.recipe.ingredients[0], { amount: '16 oz', name: 'Lasagna noodles' });
    assert.deepEqual(args.recipe.ingredients[9], { amount: '1/2 tsp', name: 'Pepper' });
    assert.equal(args.recipe.steps.length, 10);
    assert.equal(args.recipe.steps[0], 'Preheat oven to 375°F (190°C).');
    assert.equal(args.recipe.steps[1], 'Cook lasagna noodles according to package directions, drain and set aside.');
    assert.equal(args.recipe.steps[4], 'In a 9x13 baking dish, spread a thin layer of meat sauce.');
    assert.deepEqual(lastUsage(events), usage(31, 684, 1026));
  });

  it('the same recording cut before its last chunk fails instead of ending short', () => {
    const translator = new GeminiStreamTranslator({ label: 'google', upstreamModel: MODEL, fallbackId: 'x' });
    const chunks = readFixtureChunks('google-text.chunks.txt')!;
    for (const chunk of chunks.slice(0, -1)) translator.push(chunk as GeminiResponse);
    assert.throws(() => translator.end(true), { code: 'provider_unavailable' });
  });
});

describe('recorded complete responses through the converter', () => {
  const options = { label: 'google', upstreamModel: MODEL, fallbackId: 'req-1' };

  it('google-text.json: content, stop, usage, ids', () => {
    const response = convertGeminiResponse(json('google-text.json'), options);
    assert.equal(response.id, 'Un6LacrVMcjUxs0PmJfWoQc');
    assert.equal(response.model, 'gemini-3-pro-preview');
    assert.deepEqual(response.choices, [
      {
        index: 0,
        message: { content: "There are **3** r's in strawberry.\n\nHere is the breakdown: st**r**awbe**rr**y." },
        finishReason: 'stop',
      },
    ]);
    assert.deepEqual(response.usage, usage(9, 28, 244));
  });

  for (const [name, thoughts] of [
    ['google-reasoning.json', 282],
    ['google-reasoning-gemini3.json', 258],
  ] as const) {
    it(`${name}: text and thoughts counted as output`, () => {
      const response = convertGeminiResponse(json(name), options);
      assert.match(response.choices[0]!.message.content!, /^There are \*\*3\*\* "r"s in strawberry/);
      assert.deepEqual(response.usage, usage(9, 29, thoughts));
    });
  }

  for (const [name, thoughts] of [
    ['google-tool-call.json', 893],
    ['google-tool-call-gemini3.json', 1801],
  ] as const) {
    it(`${name}: a tool call, finish tool_calls, its signature readable only for its model`, () => {
      const body = json(name);
      const response = convertGeminiResponse(body, options);
      const choice = response.choices[0]!;
      assert.equal(choice.finishReason, 'tool_calls');
      assert.equal(choice.message.content, null);
      assert.equal(choice.message.toolCalls!.length, 1);
      const call = choice.message.toolCalls![0]!;
      assert.equal(call.name, 'weather');
      assert.equal(call.arguments, '{"location":"San Francisco"}');
      const signature = body.candidates![0]!.content!.parts![0]!.thoughtSignature;
      assert.equal(decodeToolCallId(call.id, MODEL).thoughtSignature, signature);
      assert.equal(decodeToolCallId(call.id, 'gemini-2.5-flash').thoughtSignature, undefined);
      assert.deepEqual(response.usage, usage(29, 15, thoughts));
    });
  }
});

describe('recorded samples replayed by the mock, end to end through the adapter', () => {
  let mock: MockGemini;
  before(async () => {
    mock = await startMockGemini();
  });
  after(async () => {
    await mock.close();
    await closeCallContexts();
  });

  it('streamed google-stream-tool-call-arguments over real SSE', async () => {
    const request = chatRequest({
      messages: [userText('[replay:google-stream-tool-call-arguments]')],
      stream: true,
    });
    const events = await collect(await geminiAdapter.stream(request, geminiTarget(mock, MODEL), callContext()));
    assert.deepEqual(
      toolCalls(events).map((c) => JSON.parse(c.argumentsDelta)),
      [{ location: 'Boston' }, { location: 'San Francisco' }],
    );
    assert.deepEqual(finishes(events), [{ type: 'finish', choice: 0, reason: 'tool_calls' }]);
  });

  it('complete google-reasoning-gemini3.json over HTTP', async () => {
    const request = chatRequest({ messages: [userText('[replay:google-reasoning-gemini3]')] });
    const response = await geminiAdapter.complete(request, geminiTarget(mock, MODEL), callContext());
    assert.equal(response.id, 'DniLab2dFPeSxN8PpqXY4Ag');
    assert.deepEqual(response.usage, usage(9, 29, 258));
  });
});
