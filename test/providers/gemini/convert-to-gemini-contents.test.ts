import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GatewayError } from '../../../src/core/errors.ts';
import type { Message } from '../../../src/core/ir.ts';
import {
  convertToGeminiContents,
  SKIP_THOUGHT_SIGNATURE,
} from '../../../src/providers/gemini/convert-to-gemini-contents.ts';
import { synthesizeToolCallId, upstreamToolCallId } from '../../../src/providers/gemini/tool-call-ids.ts';

const text = (t: string) => ({ type: 'text' as const, text: t });

describe('convertToGeminiContents', () => {
  it('merges consecutive turns of one role, drops empty text, and sends a system-only prompt as the user turn', () => {
    const messages: Message[] = [
      { role: 'user', content: [text('a'), text('')] },
      { role: 'user', content: [text('b')] },
      { role: 'assistant', content: [text('')] },
      { role: 'assistant', content: [text('c')] },
    ];
    assert.deepEqual(convertToGeminiContents(messages, 'gemini-2.5-flash'), {
      contents: [
        { role: 'user', parts: [{ text: 'a' }, { text: 'b' }] },
        { role: 'model', parts: [{ text: 'c' }] },
      ],
    });
    assert.deepEqual(convertToGeminiContents([{ role: 'system', content: [text('only')] }], 'gemini-2.5-flash'), {
      contents: [{ role: 'user', parts: [{ text: 'only' }] }],
    });
  });

  it('does not send reasoning blocks back (their signatures may belong to another provider)', () => {
    const messages: Message[] = [
      { role: 'user', content: [text('q')] },
      { role: 'assistant', content: [text('a')], reasoning: [{ text: 'thinking', signature: 'EqQBCkgIARAB' }] },
    ];
    assert.deepEqual(convertToGeminiContents(messages, 'gemini-3-pro-preview').contents[1], {
      role: 'model',
      parts: [{ text: 'a' }],
    });
  });

  it('replays the signature carried in the id only to the model that issued it', () => {
    // Canonical base64 with `+`, `/` and padding, as Google sends.
    const signature = Buffer.from([0x0a, 0x23, 0x01, 0xfb, 0xff, 0xbf, 0x3e, 0x10]).toString('base64');
    assert.match(signature, /[+/].*=$/);
    const id = synthesizeToolCallId('resp-1', 0, 0, { signature, model: 'gemini-3-pro-preview' });
    const messages: Message[] = [
      { role: 'user', content: [text('q')] },
      { role: 'assistant', content: [], toolCalls: [{ id, name: 'f', arguments: '{"a":1}' }] },
      { role: 'tool', toolCallId: id, content: [text('ok')] },
    ];
    const same = convertToGeminiContents(messages, 'models/gemini-3-pro-preview').contents[1]!.parts![0]!;
    assert.equal(same.thoughtSignature, signature);
    const other = convertToGeminiContents(messages, 'gemini-3-flash-preview').contents[1]!.parts![0]!;
    assert.equal(other.thoughtSignature, SKIP_THOUGHT_SIGNATURE);
    const old = convertToGeminiContents(messages, 'gemini-2.5-flash').contents[1]!.parts![0]!;
    assert.equal(old.thoughtSignature, undefined, 'Gemini 2.x does not validate, nothing is invented');
  });

  it('echoes ids Gemini issued on both the call and its response', () => {
    const id = upstreamToolCallId('fc-7');
    const messages: Message[] = [
      { role: 'user', content: [text('q')] },
      { role: 'assistant', content: [], toolCalls: [{ id, name: 'f', arguments: '' }] },
      { role: 'tool', toolCallId: id, content: [text('ok')] },
    ];
    const { contents } = convertToGeminiContents(messages, 'gemini-2.5-flash');
    assert.deepEqual(contents[1]!.parts![0]!.functionCall, { name: 'f', args: {}, id: 'fc-7' });
    assert.deepEqual(contents[2]!.parts![0]!.functionResponse, { name: 'f', response: { output: 'ok' }, id: 'fc-7' });
  });

  it('arguments that are not a JSON object are still sent as an object', () => {
    const messages: Message[] = [
      { role: 'user', content: [text('q')] },
      {
        role: 'assistant',
        content: [],
        toolCalls: [
          { id: 'c1', name: 'f', arguments: '[1,2]' },
          { id: 'c2', name: 'g', arguments: '{not json' },
        ],
      },
    ];
    const parts = convertToGeminiContents(messages, 'gemini-2.5-flash').contents[1]!.parts!;
    assert.deepEqual(parts[0]!.functionCall!.args, { value: [1, 2] });
    assert.deepEqual(parts[1]!.functionCall!.args, {});
  });

  it('images in tool results follow the function response; data URLs become inline data', () => {
    const messages: Message[] = [
      { role: 'user', content: [text('q')] },
      { role: 'assistant', content: [], toolCalls: [{ id: 'c1', name: 'shot', arguments: '{}' }] },
      {
        role: 'tool',
        toolCallId: 'c1',
        content: [
          text('see image'),
          { type: 'image', source: { kind: 'url', url: 'data:image/jpeg;base64,/9j/4AAQ' } },
        ],
      },
    ];
    assert.deepEqual(convertToGeminiContents(messages, 'gemini-2.5-flash').contents[2], {
      role: 'user',
      parts: [
        { functionResponse: { name: 'shot', response: { output: 'see image' } } },
        { inlineData: { mimeType: 'image/jpeg', data: '/9j/4AAQ' } },
      ],
    });
  });

  it('an image URL Gemini cannot fetch is an invalid request naming the part', () => {
    const messages: Message[] = [
      { role: 'user', content: [text('q'), { type: 'image', source: { kind: 'url', url: 'file:///etc/passwd' } }] },
    ];
    assert.throws(
      () => convertToGeminiContents(messages, 'gemini-2.5-flash'),
      (err: GatewayError) => err.code === 'invalid_request' && err.param === 'messages[0].content[1]',
    );
  });

  it('an unknown-extension URL is sent with an image MIME type', () => {
    const messages: Message[] = [
      { role: 'user', content: [{ type: 'image', source: { kind: 'url', url: 'https://cdn.example.com/i?id=3' } }] },
    ];
    assert.deepEqual(convertToGeminiContents(messages, 'gemini-2.5-flash').contents[0]!.parts, [
      { fileData: { fileUri: 'https://cdn.example.com/i?id=3', mimeType: 'image/jpeg' } },
    ]);
  });
});
