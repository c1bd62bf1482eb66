import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiError, type Content, GoogleGenAI, Type } from '@google/genai';
import { type MockGemini, startMockGemini } from '../../mocks/gemini.ts';

/**
 * The mock Gemini server checked by Google's own SDK acting as its client: if the mock drifted from the
 * real wire format (paths, auth, SSE framing, response or error shapes), the SDK would fail here.
 */

let mock: MockGemini;
let ai: GoogleGenAI;

before(async () => {
  mock = await startMockGemini();
  ai = new GoogleGenAI({ apiKey: mock.apiKey, httpOptions: { baseUrl: mock.baseUrl } });
});
after(() => mock.close());

const weatherTool = {
  functionDeclarations: [
    {
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: {
        type: Type.OBJECT,
        properties: { city: { type: Type.STRING }, days: { type: Type.INTEGER } },
        required: ['city'],
      },
    },
  ],
};

describe('mock Gemini, checked by @google/genai', () => {
  it('generateContent: text, usage and model version reach the SDK', async () => {
    const response = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Say hi' });
    assert.equal(response.text, 'Mock Gemini reply to: Say hi');
    assert.equal(response.candidates?.[0]?.finishReason, 'STOP');
    assert.equal(response.modelVersion, 'gemini-2.5-flash');
    assert.ok(response.responseId);
    const usage = response.usageMetadata!;
    assert.ok(usage.promptTokenCount! > 0);
    assert.equal(
      usage.totalTokenCount,
      usage.promptTokenCount! + usage.candidatesTokenCount! + (usage.thoughtsTokenCount ?? 0),
    );
    const recorded = mock.requests.at(-1)!;
    assert.equal(recorded.keySource, 'header');
    assert.equal(recorded.action, 'generateContent');
  });

  it('generateContentStream: the SDK parses every SSE event; the last one finishes', async () => {
    const stream = await ai.models.generateContentStream({
      model: 'gemini-3-pro-preview',
      contents: 'Stream this answer please',
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.length >= 2, 'several chunks');
    const text = chunks.map((c) => c.text ?? '').join('');
    assert.equal(text, 'Mock Gemini reply to: Stream this answer please');
    assert.equal(chunks.at(-1)!.candidates?.[0]?.finishReason, 'STOP');
    assert.equal(chunks.slice(0, -1).filter((c) => c.candidates?.[0]?.finishReason).length, 0);
    assert.equal(mock.requests.at(-1)!.query['alt'], 'sse');
  });

  it('function calling: the SDK reads parallel functionCall parts, and a function response is answered', async () => {
    const config = { tools: [weatherTool] };
    const first = await ai.models.generateContent({
      model: 'gemini-3-flash-preview',
      contents: 'Weather in two places [parallel]',
      config,
    });
    const calls = first.functionCalls ?? [];
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[0], { name: 'get_weather', args: { city: 'alpha', days: 1 } });
    assert.deepEqual(calls[1], { name: 'get_weather', args: { city: 'alpha-1', days: 2 } });
    // Gemini 3 signs the first call; the history must carry it back.
    const modelTurn = first.candidates![0]!.content as Content;
    assert.ok(modelTurn.parts![0]!.thoughtSignature);
    const second = await ai.models.generateContent({
      model: 'gemini-3-flash-preview',
      contents: [
        { role: 'user', parts: [{ text: 'Weather in two places [parallel]' }] },
        modelTurn,
        {
          role: 'user',
          parts: calls.map((call) => ({ functionResponse: { name: call.name, response: { output: 'sunny' } } })),
        },
      ],
      config,
    });
    assert.equal(second.text, 'Received 2 function result(s): get_weather, get_weather.');
  });

  it('function calling: a Gemini 3 history without the thought signature is refused as Google does', async () => {
    await assert.rejects(
      ai.models.generateContent({
        model: 'gemini-3-flash-preview',
        contents: [
          { role: 'user', parts: [{ text: 'Weather? [tool]' }] },
          { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] },
          { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: 'sunny' } } }] },
        ],
        config: { tools: [weatherTool] },
      }),
      (err: unknown) => err instanceof ApiError && err.status === 400 && /thought_signature/.test(err.message),
    );
  });

  it('thinking: includeThoughts gives thought parts', async () => {
    const response = await ai.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'Think first',
      config: { thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 } },
    });
    const parts = response.candidates![0]!.content!.parts!;
    assert.equal(parts[0]!.thought, true);
    assert.equal(response.text, 'Mock Gemini reply to: Think first');
    assert.equal(response.usageMetadata?.thoughtsTokenCount, 24);
  });

  it('structured output: responseSchema gives JSON text', async () => {
    const response = await ai.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'Give JSON',
      config: {
        responseMimeType: 'application/json',
        responseSchema: { type: Type.OBJECT, properties: { name: { type: Type.STRING } }, required: ['name'] },
      },
    });
    assert.deepEqual(JSON.parse(response.text!), { name: 'alpha' });
  });

  it('a prompt block reaches the SDK as promptFeedback without candidates', async () => {
    const response = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'bad [blocked]' });
    assert.equal(response.promptFeedback?.blockReason, 'SAFETY');
    assert.equal(response.candidates, undefined);
  });

  it('replays a recorded sample through the SDK stream', async () => {
    const stream = await ai.models.generateContentStream({
      model: 'gemini-3-pro-preview',
      contents: '[replay:google-text]',
    });
    let text = '';
    for await (const chunk of stream) text += chunk.text ?? '';
    assert.equal(text, 'There are **3** "r"s in strawberry.\n\nst**r**awbe**rr**y');
  });

  it('errors: a wrong key is the real 400 API_KEY_INVALID', async () => {
    const bad = new GoogleGenAI({ apiKey: 'wrong-key', httpOptions: { baseUrl: mock.baseUrl } });
    await assert.rejects(
      bad.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }),
      (err: unknown) => err instanceof ApiError && err.status === 400 && /API_KEY_INVALID/.test(err.message),
    );
  });

  it('errors: 429 RESOURCE_EXHAUSTED with RetryInfo, 503 UNAVAILABLE, 404 for an unknown model', async () => {
    mock.faults.push({ kind: 'status', status: 429 }, { kind: 'status', status: 503 });
    await assert.rejects(
      ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }),
      (err: unknown) =>
        err instanceof ApiError &&
        err.status === 429 &&
        /RESOURCE_EXHAUSTED/.test(err.message) &&
        /34.4s/.test(err.message),
    );
    await assert.rejects(
      ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'x' }),
      (err: unknown) => err instanceof ApiError && err.status === 503 && /UNAVAILABLE/.test(err.message),
    );
    await assert.rejects(
      ai.models.generateContent({ model: 'not-a-model', contents: 'x' }),
      (err: unknown) => err instanceof ApiError && err.status === 404 && /NOT_FOUND/.test(err.message),
    );
  });

  it('errors: an error event inside a stream is raised by the SDK', async () => {
    const stream = await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'go [stream_error]' });
    await assert.rejects(
      (async () => {
        for await (const _chunk of stream) {
          // drain
        }
      })(),
      (err: unknown) => err instanceof ApiError && err.status === 503,
    );
  });
});

describe('mock Gemini wire details', () => {
  it('frames SSE as `data: {json}` events with CRLF blank lines, no terminal marker', async () => {
    const res = await fetch(`${mock.baseUrl}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': mock.apiKey },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'frames' }] }] }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const body = await res.text();
    const events = body.split('\r\n\r\n');
    assert.equal(events.pop(), '', 'ends with a blank line');
    for (const event of events) {
      assert.match(event, /^data: \{.*\}$/s);
      JSON.parse(event.slice('data: '.length));
    }
    assert.ok(!body.includes('[DONE]'));
  });

  it('accepts the key as the `key` query parameter and answers a missing key with 403', async () => {
    const url = `${mock.baseUrl}/v1beta/models/gemini-2.5-flash:generateContent`;
    const init = {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }),
    };
    const ok = await fetch(`${url}?key=${mock.apiKey}`, init);
    assert.equal(ok.status, 200);
    assert.equal(mock.requests.at(-1)!.keySource, 'query');
    const missing = await fetch(url, init);
    assert.equal(missing.status, 403);
    const body = (await missing.json()) as { error: { status: string } };
    assert.equal(body.error.status, 'PERMISSION_DENIED');
  });

  it('without alt=sse streams one JSON array, as Google does', async () => {
    const res = await fetch(`${mock.baseUrl}/v1beta/models/gemini-2.5-flash:streamGenerateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': mock.apiKey },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'array' }] }] }),
    });
    const chunks = (await res.json()) as Array<{ candidates: unknown[] }>;
    assert.ok(Array.isArray(chunks) && chunks.length >= 2);
  });

  it('rejects schema keywords outside Gemini’s subset, as Google does', async () => {
    const res = await fetch(`${mock.baseUrl}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': mock.apiKey },
      body: JSON.stringify({
        contents: [{ parts: [{ text: 'x' }] }],
        tools: [
          {
            functionDeclarations: [
              {
                name: 'f',
                parameters: { type: 'OBJECT', properties: { a: { type: 'STRING' } }, additionalProperties: false },
              },
            ],
          },
        ],
      }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { message: string } };
    assert.match(body.error.message, /Unknown name "additionalProperties"/);
  });
});
