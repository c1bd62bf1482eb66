import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { StoreConfig } from '../../src/store/db.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * Stored responses on each database the gateway runs on: a conversation continued through the gateway's own
 * database, and on PostgreSQL one stored by a node and continued on another node sharing the database.
 */

const MODEL = 'openai/gpt-4o-mini';

let openai: MockOpenAI;
before(async () => {
  openai = await startMockOpenAI();
});
after(async () => {
  await openai.close();
});

function config(storage: StoreConfig) {
  return {
    storage:
      storage.kind === 'sqlite'
        ? storage
        : { kind: 'postgres' as const, url: storage.url, schema: storage.schema as string },
    responses: { store: true },
    providers: [
      {
        id: 'openai',
        kind: 'openai',
        baseUrl: openai.url,
        keys: [MOCK_API_KEY],
        models: [{ name: 'gpt-4o-mini', qualityRank: 70, price: { input: 1, output: 2 } }],
      },
    ] as never,
  };
}

function lastUpstreamTexts(): string[] {
  const body = openai.requests.at(-1)?.body as { messages: Array<{ role: string; content: unknown }> };
  return body.messages.map((m) => `${m.role}:${typeof m.content === 'string' ? m.content : JSON.stringify(m.content)}`);
}

forEachDatabase('stored responses through the gateway', (suite) => {
  it('a conversation is stored and continued', async () => {
    const gw = await startGateway(config(suite.newConfig()));
    try {
      const first = await gw.client.responses.create({ model: MODEL, input: 'One' });
      const second = await gw.client.responses.create({ model: MODEL, previous_response_id: first.id, input: 'Two' });
      assert.equal(second.previous_response_id, first.id);
      assert.deepEqual(lastUpstreamTexts(), ['user:One', 'assistant:Echo: One', 'user:Two']);
    } finally {
      await gw.close();
    }
  });

  it('a response stored by one node is continued on another (PostgreSQL)', async (t) => {
    if (suite.kind !== 'postgres') return t.skip('several nodes share a database only on PostgreSQL');
    const shared = { ...config(suite.newConfig()), tenancy: { secret: 'a-shared-secret-of-at-least-32-characters' } };
    let a: TestGateway | undefined;
    let b: TestGateway | undefined;
    try {
      a = await startGateway(shared);
      b = await startGateway(shared);
      const first = await a.client.responses.create({ model: MODEL, input: 'On node A' });
      await a.runtime.responses!.flush();
      const next = await b.client.responses.create({ model: MODEL, previous_response_id: first.id, input: 'On B' });
      assert.equal(next.output_text, 'Echo: On B');
      assert.deepEqual(lastUpstreamTexts(), ['user:On node A', 'assistant:Echo: On node A', 'user:On B']);
      assert.equal((await b.client.responses.retrieve(first.id)).id, first.id);
    } finally {
      await b?.close();
      await a?.close();
    }
  });
});
