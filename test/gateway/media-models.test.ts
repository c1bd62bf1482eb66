import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BadRequestError } from 'openai';
import { startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { validateModelList } from '../helpers/openai-schema.ts';

/** Media models through the gateway's chat surface: listed with their mode, never routed to as chat. */

describe('media models on the demo provider (zero configuration)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({});
  });
  after(() => gw.close());

  test('GET /v1/models lists them last, with their mode, in a list the SDK and OpenAI’s schema accept', async () => {
    const listed: Array<{ id: string; mode?: string }> = [];
    for await (const model of gw.client.models.list()) listed.push(model as { id: string; mode?: string });
    const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    assert.ok(validateModelList(await res.json()).ok);
    assert.deepEqual(
      listed.slice(-3).map((m) => [m.id, m.mode]),
      [
        ['demo/demo-embed', 'embedding'],
        ['demo/demo-image', 'image'],
        ['demo/demo-speech', 'speech'],
      ],
    );
  });

  test('a chat request naming a media model is a 400 pointing to executions; tiers never serve one', async () => {
    await assert.rejects(
      gw.client.chat.completions.create({ model: 'demo-image', messages: [{ role: 'user', content: 'draw' }] }),
      (err: unknown) =>
        err instanceof BadRequestError && err.param === 'model' && /POST \/v1\/executions/.test(err.message),
    );
    for (const tier of ['utility', 'fast', 'deep', 'auto']) {
      const { response } = await gw.client.chat.completions
        .create({ model: tier, messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      assert.match(response.headers.get('x-model-router-model') ?? '', /^demo\/demo-(utility|fast|deep)$/);
    }
    await assert.rejects(gw.client.embeddings.create({ model: 'demo-speech', input: 'x' }), /is a speech model/);
  });
});
