import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openStore } from '../../src/store/db.ts';
import { findUsageRecord } from '../../src/store/usage-queries.ts';
import { mockProvider, startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * Hostile-test findings (Low): streams still open when the shutdown grace ends were cut at TCP level with no
 * error event (a silent short answer), and 503s sent while draining were not recorded.
 */
describe('shutdown ends what is left with an error event, and records what it refuses', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;

  before(async () => {
    // 20 events, 400 ms apart: far longer than the grace below.
    mock = await startMockOpenAI({ chunkDelayMs: 400 });
    gw = await startGateway({
      server: { shutdownGraceMs: 600 },
      providers: [mockProvider('up', mock.url, [{ name: 'gpt-4o-mini', qualityRank: 70 }])],
    });
  });
  after(async () => {
    await mock.close();
    rmSync(gw.dataDir, { recursive: true, force: true });
  });

  /** Opens a stream and returns its request id, the text so far, and a promise of the whole text. */
  async function openStream(path: string, body: unknown) {
    const res = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TEST_API_KEY}`,
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    const rest = (async () => {
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (done) return text;
        text += decoder.decode(value);
      }
    })();
    return { requestId: res.headers.get('x-request-id')!, rest };
  }

  test('open streams on both endpoints end with their protocol’s error event; a 503 while draining is recorded', async () => {
    const prompt = [{ role: 'user', content: 'a long answer please, about the sea and the sky' }];
    const openai = await openStream('/v1/chat/completions', { model: 'fast', stream: true, messages: prompt });
    const anthropic = await openStream('/v1/messages', {
      model: 'fast',
      max_tokens: 200,
      stream: true,
      messages: prompt,
    });

    // Draining refuses new work with 503; what it refuses is recorded like any other answer.
    gw.runtime.draining = true;
    const refused = await gw.post('/v1/chat/completions', { model: 'fast', messages: prompt });
    gw.runtime.draining = false;
    assert.equal(refused.status, 503);
    const refusedId = refused.headers.get('x-request-id');
    assert.ok(refusedId, 'the refusal carries a request id');
    await refused.text();

    await gw.runtime.shutdown();
    const openaiText = await openai.rest;
    const anthropicText = await anthropic.rest;
    assert.doesNotMatch(openaiText, /\[DONE\]/, 'never a clean end for a cut answer');
    assert.match(openaiText, /data: \{"error":\{[^\n]*"code":"provider_unavailable"/);
    assert.doesNotMatch(anthropicText, /event: message_stop/);
    assert.match(
      anthropicText,
      /event: error\ndata: \{[^\n]*"overloaded_error"|event: error\ndata: \{[^\n]*"api_error"/,
    );

    const store = await openStore({ kind: 'sqlite', path: join(gw.dataDir, 'modro.db') });
    try {
      for (const id of [openai.requestId, anthropic.requestId]) {
        const record = await findUsageRecord(store.db, id);
        assert.ok(record, `stream ${id} recorded`);
        assert.equal(record.errorCode, 'provider_unavailable');
        assert.equal(record.status, 200, 'the stream had started: an error event, not a client that left');
      }
      const record = await findUsageRecord(store.db, refusedId);
      assert.ok(record, 'the 503 sent while draining is recorded');
      assert.equal(record.status, 503);
    } finally {
      await store.close();
    }
  });
});
