import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamEvent } from '../../../src/core/ir.ts';
import type { GeminiResponse } from '../../../src/providers/gemini/gemini-api-types.ts';
import { GeminiStreamTranslator } from '../../../src/providers/gemini/gemini-stream-translator.ts';

function run(chunks: GeminiResponse[], requireFinish = true): StreamEvent[] {
  const translator = new GeminiStreamTranslator({
    label: 'g',
    upstreamModel: 'gemini-3-flash-preview',
    fallbackId: 'fb',
  });
  return [...chunks.flatMap((chunk) => translator.push(chunk)), ...translator.end(requireFinish)];
}

const kinds = (events: StreamEvent[]) => events.map((e) => e.type);

describe('GeminiStreamTranslator', () => {
  it('a streamed call closed by a part without willContinue is emitted at once, before later text', () => {
    const events = run([
      { responseId: 'r', candidates: [{ content: { parts: [{ functionCall: { name: 'f', willContinue: true } }] } }] },
      {
        candidates: [
          {
            content: {
              parts: [{ functionCall: { partialArgs: [{ jsonPath: '$.q', stringValue: 'x' }], willContinue: true } }],
            },
          },
        ],
      },
      { candidates: [{ content: { parts: [{ functionCall: {} }] } }] },
      { candidates: [{ content: { parts: [{ text: 'after' }] }, finishReason: 'STOP' }] },
    ]);
    assert.deepEqual(kinds(events), ['start', 'tool-call', 'text', 'finish']);
    assert.equal((events[1] as { argumentsDelta: string }).argumentsDelta, '{"q":"x"}');
    assert.deepEqual(events.at(-1), { type: 'finish', choice: 0, reason: 'tool_calls' });
  });

  it('several candidates: events and finishes per choice, tool-call indexes per choice', () => {
    const events = run([
      {
        responseId: 'r',
        candidates: [
          { index: 0, content: { parts: [{ text: 'a' }] } },
          { index: 1, content: { parts: [{ functionCall: { name: 'f', args: { n: 1 } } }] } },
        ],
      },
      {
        candidates: [
          { index: 0, finishReason: 'MAX_TOKENS' },
          { index: 1, finishReason: 'STOP' },
        ],
      },
    ]);
    assert.deepEqual(
      events.filter((e) => e.type === 'finish'),
      [
        { type: 'finish', choice: 0, reason: 'length' },
        { type: 'finish', choice: 1, reason: 'tool_calls' },
      ],
    );
    const call = events.find((e) => e.type === 'tool-call') as Extract<StreamEvent, { type: 'tool-call' }>;
    assert.equal(call.choice, 1);
    assert.equal(call.index, 0);
    assert.match(call.id!, /^call_[0-9a-f]{16}_1_0$/);
  });

  it('the response id falls back to the request id, and ids stay stable with it', () => {
    const chunk: GeminiResponse = {
      candidates: [{ content: { parts: [{ functionCall: { name: 'f', args: {} } }] }, finishReason: 'STOP' }],
    };
    const a = run([chunk]);
    const b = run([chunk]);
    assert.equal((a[0] as { id: string }).id, 'fb');
    assert.equal((a[1] as { id: string }).id, (b[1] as { id: string }).id);
  });

  it('a prompt block is content_filtered; an empty body is provider_unavailable', () => {
    assert.throws(() => run([{ promptFeedback: { blockReason: 'PROHIBITED_CONTENT' } }]), {
      code: 'content_filtered',
    });
    assert.throws(() => run([{}]), { code: 'provider_unavailable' });
    assert.throws(() => run([]), { code: 'provider_unavailable' });
  });

  it('a complete body without finishReason ends as stop; a stream without one fails', () => {
    const chunk: GeminiResponse = { candidates: [{ content: { parts: [{ text: 'x' }] } }] };
    assert.deepEqual(run([chunk], false).at(-1), { type: 'finish', choice: 0, reason: 'stop' });
    assert.throws(() => run([chunk], true), { code: 'provider_unavailable' });
  });

  it('unchanged usage is not repeated; thought text is reasoning, signed empty text is nothing', () => {
    const usageMetadata = { promptTokenCount: 5, candidatesTokenCount: 1, thoughtsTokenCount: 2 };
    const events = run([
      { candidates: [{ content: { parts: [{ text: 'hmm', thought: true }] } }], usageMetadata },
      { candidates: [{ content: { parts: [{ text: 'ok' }] } }], usageMetadata },
      {
        candidates: [{ content: { parts: [{ text: '', thoughtSignature: 'c2ln' }] }, finishReason: 'STOP' }],
        usageMetadata,
      },
    ]);
    assert.deepEqual(kinds(events), ['start', 'reasoning', 'usage', 'text', 'finish']);
  });
});
