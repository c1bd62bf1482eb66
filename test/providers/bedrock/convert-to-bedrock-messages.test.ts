import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GatewayError } from '../../../src/core/errors.ts';
import type { Message } from '../../../src/core/ir.ts';
import type { BedrockImageBlock } from '../../../src/providers/bedrock/bedrock-api-types.ts';
import {
  convertToBedrockMessages,
  EMPTY_TOOL_RESULT,
} from '../../../src/providers/bedrock/convert-to-bedrock-messages.ts';
import { toBedrockToolUseId } from '../../../src/providers/bedrock/tool-use-ids.ts';

const none = new Map<string, BedrockImageBlock>();
const claude = { family: 'anthropic' as const, images: none };

describe('convertToBedrockMessages', () => {
  it('moves every system message to the system blocks, in order', () => {
    const prompt = convertToBedrockMessages(
      [
        { role: 'system', content: [{ type: 'text', text: 'First.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
        {
          role: 'system',
          content: [
            { type: 'text', text: 'Second.' },
            { type: 'text', text: '  ' },
          ],
        },
      ],
      claude,
    );
    assert.deepEqual(prompt.system, [{ text: 'First.' }, { text: 'Second.' }]);
    assert.deepEqual(prompt.messages, [{ role: 'user', content: [{ text: 'Hi' }] }]);
  });

  it('merges consecutive turns of one role and drops empty messages so roles alternate', () => {
    const prompt = convertToBedrockMessages(
      [
        { role: 'user', content: [{ type: 'text', text: 'a' }] },
        { role: 'user', content: [{ type: 'text', text: 'b' }] },
        { role: 'assistant', content: [{ type: 'text', text: '' }] },
        { role: 'user', content: [{ type: 'text', text: 'c' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'x' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'y' }] },
      ],
      claude,
    );
    assert.deepEqual(prompt.messages, [
      { role: 'user', content: [{ text: 'a' }, { text: 'b' }, { text: 'c' }] },
      { role: 'assistant', content: [{ text: 'x' }, { text: 'y' }] },
    ]);
  });

  it('turns tool calls into toolUse (input as an object) and tool messages into toolResult in a user turn', () => {
    const prompt = convertToBedrockMessages(
      [
        { role: 'user', content: [{ type: 'text', text: 'Go' }] },
        {
          role: 'assistant',
          content: [],
          toolCalls: [
            { id: 'call_a', name: 'f', arguments: '{"x":1}' },
            { id: 'call_b', name: 'g', arguments: ' ' },
          ],
        },
        { role: 'tool', toolCallId: 'call_a', content: [{ type: 'text', text: 'one' }] },
        { role: 'tool', toolCallId: 'call_b', content: [], isError: true },
      ],
      claude,
    );
    assert.deepEqual(prompt.messages.slice(1), [
      {
        role: 'assistant',
        content: [
          { toolUse: { toolUseId: 'call_a', name: 'f', input: { x: 1 } } },
          { toolUse: { toolUseId: 'call_b', name: 'g', input: {} } },
        ],
      },
      {
        role: 'user',
        content: [
          { toolResult: { toolUseId: 'call_a', content: [{ text: 'one' }] } },
          { toolResult: { toolUseId: 'call_b', content: [{ text: EMPTY_TOOL_RESULT }], status: 'error' } },
        ],
      },
    ]);
    assert.deepEqual(prompt.historyToolNames, ['f', 'g']);
  });

  it('sends the error status only to families that accept it', () => {
    const messages: Message[] = [
      { role: 'user', content: [{ type: 'text', text: 'Go' }] },
      { role: 'assistant', content: [], toolCalls: [{ id: 'c1', name: 'f', arguments: '{}' }] },
      { role: 'tool', toolCallId: 'c1', content: [{ type: 'text', text: 'boom' }], isError: true },
    ];
    const meta = convertToBedrockMessages(messages, { family: 'meta', images: none });
    assert.deepEqual(meta.messages[2]!.content[0], { toolResult: { toolUseId: 'c1', content: [{ text: 'boom' }] } });
    const nova = convertToBedrockMessages(messages, { family: 'nova', images: none });
    assert.deepEqual(nova.messages[2]!.content[0], {
      toolResult: { toolUseId: 'c1', content: [{ text: 'boom' }], status: 'error' },
    });
  });

  it('rewrites tool call ids Bedrock would reject, identically in toolUse and toolResult', () => {
    const messages: Message[] = [
      { role: 'user', content: [{ type: 'text', text: 'Go' }] },
      { role: 'assistant', content: [], toolCalls: [{ id: 'call:abc/1', name: 'f', arguments: '{}' }] },
      { role: 'tool', toolCallId: 'call:abc/1', content: [{ type: 'text', text: 'ok' }] },
    ];
    for (const family of ['anthropic', 'mistral'] as const) {
      const prompt = convertToBedrockMessages(messages, { family, images: none });
      const use = (prompt.messages[1]!.content[0] as { toolUse: { toolUseId: string } }).toolUse.toolUseId;
      const result = (prompt.messages[2]!.content[0] as { toolResult: { toolUseId: string } }).toolResult.toolUseId;
      assert.equal(use, result);
      assert.match(use, family === 'mistral' ? /^[a-zA-Z0-9]{9}$/ : /^[a-zA-Z0-9_-]{1,64}$/);
    }
    assert.equal(toBedrockToolUseId('call_ok-1', 'anthropic'), 'call_ok-1');
    assert.equal(toBedrockToolUseId('abcDEF123', 'mistral'), 'abcDEF123');
    assert.notEqual(toBedrockToolUseId('a:b', 'anthropic'), toBedrockToolUseId('a/b', 'anthropic'));
  });

  it('rejects tool call arguments that are not a JSON object', () => {
    for (const args of ['{not json', '[1,2]']) {
      assert.throws(
        () =>
          convertToBedrockMessages(
            [
              { role: 'user', content: [{ type: 'text', text: 'Go' }] },
              { role: 'assistant', content: [], toolCalls: [{ id: 'c', name: 'f', arguments: args }] },
            ],
            claude,
          ),
        (err: GatewayError) => err.code === 'invalid_request' && err.param === 'messages',
      );
    }
  });

  it('adds cache points after marked text for families with prompt caching only', () => {
    const messages: Message[] = [
      {
        role: 'system',
        content: [{ type: 'text', text: 'Long rules', cacheControl: { type: 'ephemeral', ttl: '1h' } }],
      },
      { role: 'user', content: [{ type: 'text', text: 'Doc', cacheControl: { type: 'ephemeral' } }] },
    ];
    const cached = convertToBedrockMessages(messages, claude);
    assert.deepEqual(cached.system, [{ text: 'Long rules' }, { cachePoint: { type: 'default', ttl: '1h' } }]);
    assert.deepEqual(cached.messages[0]!.content, [{ text: 'Doc' }, { cachePoint: { type: 'default' } }]);
    const plain = convertToBedrockMessages(messages, { family: 'meta', images: none });
    assert.deepEqual(plain.system, [{ text: 'Long rules' }]);
  });

  it('trims trailing whitespace from a final assistant prefill', () => {
    const prompt = convertToBedrockMessages(
      [
        { role: 'user', content: [{ type: 'text', text: 'Go' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'The answer is ' }] },
      ],
      claude,
    );
    assert.deepEqual(prompt.messages[1], { role: 'assistant', content: [{ text: 'The answer is' }] });
  });

  it('uses the refusal as text when an assistant turn has no content', () => {
    const prompt = convertToBedrockMessages(
      [
        { role: 'user', content: [{ type: 'text', text: 'Go' }] },
        { role: 'assistant', content: [], refusal: 'I cannot help with that.' },
        { role: 'user', content: [{ type: 'text', text: 'Ok' }] },
      ],
      claude,
    );
    assert.deepEqual(prompt.messages[1], { role: 'assistant', content: [{ text: 'I cannot help with that.' }] });
  });

  it('converts images: base64 by media type, s3 URLs as s3Location, fetched URLs from the map', () => {
    const fetched = new Map<string, BedrockImageBlock>([
      ['https://example.com/cat.webp', { format: 'webp', source: { bytes: 'd2VicA==' } }],
    ]);
    const prompt = convertToBedrockMessages(
      [
        {
          role: 'user',
          content: [
            { type: 'image', source: { kind: 'base64', mediaType: 'image/jpeg', data: '/9j/4AAQ' } },
            { type: 'image', source: { kind: 'url', url: 's3://bucket/photos/dog.PNG' } },
            { type: 'image', source: { kind: 'url', url: 'https://example.com/cat.webp' } },
          ],
        },
      ],
      { family: 'anthropic', images: fetched },
    );
    assert.deepEqual(prompt.messages[0]!.content, [
      { image: { format: 'jpeg', source: { bytes: '/9j/4AAQ' } } },
      { image: { format: 'png', source: { s3Location: { uri: 's3://bucket/photos/dog.PNG' } } } },
      { image: { format: 'webp', source: { bytes: 'd2VicA==' } } },
    ]);
  });

  it('rejects image types Bedrock cannot take', () => {
    assert.throws(
      () =>
        convertToBedrockMessages(
          [
            {
              role: 'user',
              content: [{ type: 'image', source: { kind: 'base64', mediaType: 'image/bmp', data: 'Qk0=' } }],
            },
          ],
          claude,
        ),
      { code: 'invalid_request' },
    );
    assert.throws(
      () =>
        convertToBedrockMessages(
          [{ role: 'user', content: [{ type: 'image', source: { kind: 'url', url: 'ftp://example.com/a.png' } }] }],
          claude,
        ),
      { code: 'invalid_request' },
    );
  });
});
