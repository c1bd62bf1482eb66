/**
 * The mock Bedrock checked by the official AWS SDK acting as its client: if the mock's framing, signing checks
 * or error bodies drifted from the real service, the SDK would fail to parse them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AccessDeniedException,
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  type ConverseStreamOutput,
  ModelStreamErrorException,
  ResourceNotFoundException,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import {
  MOCK_BEDROCK_API_KEY,
  MOCK_BEDROCK_CREDENTIALS,
  MOCK_BEDROCK_REGION,
  MOCK_BEDROCK_SESSION_CREDENTIALS,
  MOCK_REPLY_TEXT,
  type MockBedrock,
  startMockBedrock,
} from '../../mocks/bedrock.ts';
import { FaultQueue } from '../../mocks/faults.ts';

const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';

let mock: MockBedrock;
const faults = new FaultQueue();

function client(credentials = MOCK_BEDROCK_CREDENTIALS): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    endpoint: mock.url,
    region: MOCK_BEDROCK_REGION,
    credentials,
    maxAttempts: 1,
  });
}

async function collect(stream: AsyncIterable<ConverseStreamOutput> | undefined): Promise<ConverseStreamOutput[]> {
  const events: ConverseStreamOutput[] = [];
  for await (const event of stream ?? []) events.push(event);
  return events;
}

before(async () => {
  mock = await startMockBedrock({ faults });
});
after(async () => {
  await mock.close();
});

describe('mock Bedrock seen by @aws-sdk/client-bedrock-runtime', () => {
  it('answers Converse with text, stop reason and usage; the SigV4 signature verifies', async () => {
    const out = await client().send(
      new ConverseCommand({
        modelId: MODEL,
        messages: [{ role: 'user', content: [{ text: 'Hello there' }] }],
        system: [{ text: 'Be brief.' }],
      }),
    );
    assert.equal(out.stopReason, 'end_turn');
    assert.deepEqual(out.output?.message?.content, [{ text: MOCK_REPLY_TEXT }]);
    assert.ok((out.usage?.inputTokens ?? 0) > 0);
    assert.equal(out.usage?.totalTokens, (out.usage?.inputTokens ?? 0) + (out.usage?.outputTokens ?? 0));
    const recorded = mock.requests.at(-1)!;
    assert.equal(recorded.auth, 'sigv4');
    // The model id's colon goes percent-encoded on the wire, as the SDK encodes path labels.
    assert.equal(recorded.rawPath, `/model/${encodeURIComponent(MODEL)}/converse`);
    assert.equal(recorded.modelId, MODEL);
  });

  it('accepts session credentials (x-amz-security-token)', async () => {
    const out = await client(MOCK_BEDROCK_SESSION_CREDENTIALS).send(
      new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }),
    );
    assert.equal(out.stopReason, 'end_turn');
    assert.equal(mock.requests.at(-1)!.headers['x-amz-security-token'], MOCK_BEDROCK_SESSION_CREDENTIALS.sessionToken);
  });

  it('streams ConverseStream as binary event-stream frames the SDK decodes', async () => {
    const out = await client().send(
      new ConverseStreamCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'Hello' }] }] }),
    );
    const events = await collect(out.stream);
    assert.deepEqual(events[0], { messageStart: { role: 'assistant' } });
    const text = events.map((e) => e.contentBlockDelta?.delta?.text ?? '').join('');
    assert.equal(text, MOCK_REPLY_TEXT);
    const stop = events.find((e) => e.messageStop);
    assert.equal(stop?.messageStop?.stopReason, 'end_turn');
    const metadata = events.at(-1)?.metadata;
    assert.ok(metadata, 'metadata is the last event');
    assert.ok((metadata.usage?.outputTokens ?? 0) > 0);
    assert.equal(metadata.metrics?.latencyMs, 1);
  });

  it('streams tool calls: contentBlockStart with the id and name, then input fragments', async () => {
    const out = await client().send(
      new ConverseStreamCommand({
        modelId: MODEL,
        messages: [{ role: 'user', content: [{ text: 'Weather in Paris and time? [[parallel]]' }] }],
        toolConfig: {
          tools: [
            {
              toolSpec: {
                name: 'get_weather',
                inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } },
              },
            },
            { toolSpec: { name: 'get_time', inputSchema: { json: { type: 'object', properties: {} } } } },
          ],
        },
      }),
    );
    const events = await collect(out.stream);
    const starts = events.filter((e) => e.contentBlockStart).map((e) => e.contentBlockStart!.start?.toolUse?.name);
    assert.deepEqual(starts, ['get_weather', 'get_time']);
    const weatherBlock = events.find((e) => e.contentBlockStart?.start?.toolUse?.name === 'get_weather')!
      .contentBlockStart!.contentBlockIndex;
    const input = events
      .filter((e) => e.contentBlockDelta?.contentBlockIndex === weatherBlock)
      .map((e) => e.contentBlockDelta!.delta?.toolUse?.input ?? '')
      .join('');
    assert.deepEqual(JSON.parse(input), { city: 'Paris' });
    assert.equal(events.find((e) => e.messageStop)?.messageStop?.stopReason, 'tool_use');
  });

  it('answers Converse tool use with the input as a JSON document', async () => {
    const out = await client().send(
      new ConverseCommand({
        modelId: MODEL,
        messages: [{ role: 'user', content: [{ text: 'Weather? [[tools]]' }] }],
        toolConfig: {
          tools: [
            {
              toolSpec: {
                name: 'get_weather',
                inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } },
              },
            },
          ],
        },
      }),
    );
    const toolUse = out.output?.message?.content?.find((block) => block.toolUse)?.toolUse;
    assert.equal(toolUse?.name, 'get_weather');
    assert.deepEqual(toolUse?.input, { city: 'Paris' });
    assert.equal(out.stopReason, 'tool_use');
  });

  it('rejects unknown credentials with the typed UnrecognizedClientException', async () => {
    await assert.rejects(
      client({ accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'nope' }).send(
        new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }),
      ),
      (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(err.name, 'UnrecognizedClientException');
        assert.equal(err.$metadata?.httpStatusCode, 403);
        assert.match(err.message, /security token included in the request is invalid/);
        return true;
      },
    );
  });

  it('rejects a wrong secret key with InvalidSignatureException', async () => {
    await assert.rejects(
      client({ accessKeyId: MOCK_BEDROCK_CREDENTIALS.accessKeyId, secretAccessKey: 'wrong-secret' }).send(
        new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }),
      ),
      (err: Error) => {
        assert.equal(err.name, 'InvalidSignatureException');
        assert.match(err.message, /signature we calculated does not match/);
        return true;
      },
    );
  });

  it('accepts a Bedrock API key as a bearer token', async () => {
    const bearer = new BedrockRuntimeClient({
      endpoint: mock.url,
      region: MOCK_BEDROCK_REGION,
      token: { token: MOCK_BEDROCK_API_KEY },
      authSchemePreference: ['httpBearerAuth'],
      maxAttempts: 1,
    });
    const out = await bearer.send(
      new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }),
    );
    assert.equal(out.stopReason, 'end_turn');
    assert.equal(mock.requests.at(-1)!.auth, 'bearer');
  });

  it('maps fault statuses to the typed exceptions the SDK knows', async () => {
    const cases: Array<[number, new (...args: never[]) => Error]> = [
      [429, ThrottlingException],
      [400, ValidationException],
      [403, AccessDeniedException],
      [404, ResourceNotFoundException],
    ];
    for (const [status, type] of cases) {
      faults.push({ kind: 'status', status });
      await assert.rejects(
        client().send(new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] })),
        (err: Error) => {
          assert.ok(err instanceof type, `${status} → ${err.name}`);
          return true;
        },
      );
    }
  });

  it('raises real Converse validation errors the SDK types as ValidationException', async () => {
    await assert.rejects(
      client().send(
        new ConverseCommand({
          modelId: MODEL,
          messages: [
            { role: 'user', content: [{ text: 'Hi' }] },
            { role: 'user', content: [{ text: 'Again' }] },
          ],
        }),
      ),
      (err: Error) => {
        assert.ok(err instanceof ValidationException);
        assert.match(err.message, /alternate between user and assistant/);
        return true;
      },
    );
  });

  it('sends stream exceptions the SDK throws as typed errors mid-stream', async () => {
    for (const [trigger, type] of [
      ['throttlingException', ThrottlingException],
      ['modelStreamErrorException', ModelStreamErrorException],
    ] as const) {
      const out = await client().send(
        new ConverseStreamCommand({
          modelId: MODEL,
          messages: [{ role: 'user', content: [{ text: `Hi [[stream-exception:${trigger}]]` }] }],
        }),
      );
      const seen: ConverseStreamOutput[] = [];
      await assert.rejects(
        (async () => {
          for await (const event of out.stream ?? []) seen.push(event);
        })(),
        (err: Error) => {
          assert.ok(err instanceof type, `got ${err.name}`);
          return true;
        },
      );
      assert.ok(seen.length > 0, 'events before the exception were delivered');
    }
  });

  it('replays recorded fixtures through the real framing', async () => {
    const out = await client().send(
      new ConverseStreamCommand({
        modelId: MODEL,
        messages: [{ role: 'user', content: [{ text: '[[fixture:amazon-bedrock-reasoning]]' }] }],
      }),
    );
    const events = await collect(out.stream);
    const reasoning = events.map((e) => e.contentBlockDelta?.delta?.reasoningContent?.text ?? '').join('');
    assert.match(reasoning, /So there are 3 r's\./);
    assert.equal(events.at(-1)?.metadata?.usage?.totalTokens, 145);

    const json = await client().send(
      new ConverseCommand({
        modelId: MODEL,
        messages: [{ role: 'user', content: [{ text: '[[fixture:amazon-bedrock-text]]' }] }],
      }),
    );
    assert.equal(json.usage?.inputTokens, 22);
    assert.equal(json.stopReason, 'end_turn');
  });
});
