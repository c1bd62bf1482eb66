import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Message } from '../../src/core/ir.ts';
import { ResponseStore } from '../../src/responses/response-store.ts';
import {
  deleteStoredResponse,
  insertStoredResponse,
  pruneStoredResponses,
  selectStoredResponse,
} from '../../src/store/stored-responses.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { uniqueId } from './support.ts';

const DAY = 86_400_000;

function row(overrides: Partial<Parameters<typeof insertStoredResponse>[1]> = {}) {
  return {
    id: uniqueId('resp'),
    tenantId: 'tenant-a',
    messages: '[]',
    response: '{}',
    createdAt: 1_000,
    expiresAt: 1_000 + DAY,
    ...overrides,
  };
}

forEachDatabase('stored responses', (suite) => {
  it('reads a row back only for its tenant and only until it expires', async () => {
    const { db } = suite.getStore();
    const stored = row({ messages: '[{"role":"user","content":[{"type":"text","text":"hé ✓"}]}]' });
    await insertStoredResponse(db, stored);
    // Written once: a retried write is ignored.
    await insertStoredResponse(db, { ...stored, messages: '[]' });
    assert.deepEqual(await selectStoredResponse(db, 'tenant-a', stored.id, 2_000), stored);
    assert.equal(await selectStoredResponse(db, 'tenant-b', stored.id, 2_000), undefined);
    assert.equal(await selectStoredResponse(db, 'tenant-a', stored.id, stored.expiresAt), undefined);
    assert.equal(await selectStoredResponse(db, 'tenant-a', 'resp_unknown', 2_000), undefined);
  });

  it('deletes a row of its tenant only', async () => {
    const { db } = suite.getStore();
    const stored = row();
    await insertStoredResponse(db, stored);
    assert.equal(await deleteStoredResponse(db, 'tenant-b', stored.id, 2_000), false);
    assert.equal(await deleteStoredResponse(db, 'tenant-a', stored.id, 2_000), true);
    assert.equal(await deleteStoredResponse(db, 'tenant-a', stored.id, 2_000), false);
    assert.equal(await selectStoredResponse(db, 'tenant-a', stored.id, 2_000), undefined);
  });

  it('prunes expired rows in chunks and keeps the others', async () => {
    const { store } = await suite.fresh();
    const now = 10 * DAY;
    for (let i = 0; i < 1_203; i++) await insertStoredResponse(store.db, row({ expiresAt: now - i }));
    const live = row({ expiresAt: now + 1 });
    await insertStoredResponse(store.db, live);
    assert.equal(await pruneStoredResponses(store.db, now), 1_203);
    assert.equal(await pruneStoredResponses(store.db, now), 0);
    assert.deepEqual(await selectStoredResponse(store.db, 'tenant-a', live.id, now), live);
  });

  it('the store writes in the background, reads its pending writes, and prunes on its own', async () => {
    const { store } = await suite.fresh();
    let now = 5 * DAY;
    const errors: string[] = [];
    const responses = new ResponseStore({
      db: store.db,
      retentionMs: DAY,
      pruneIntervalMs: 10,
      now: () => now,
      onError: (_err, during) => errors.push(during),
    });
    const messages: Message[] = [
      { role: 'user', content: [{ type: 'text', text: 'hi' }] },
      { role: 'assistant', content: [], toolCalls: [{ id: 'call_1', name: 'f', arguments: '{"a":1}' }] },
    ];
    responses.save('tenant-a', 'resp_1', () => ({ messages, response: { id: 'resp_1', object: 'response' } }));
    // Read at once: the pending write is awaited first.
    assert.deepEqual(await responses.load('tenant-a', 'resp_1'), {
      messages,
      response: { id: 'resp_1', object: 'response' },
    });
    assert.equal(await responses.load('tenant-b', 'resp_1'), undefined);

    // A write that fails is reported, never thrown.
    responses.save('tenant-a', 'resp_2', () => {
      throw new Error('cannot translate');
    });
    await responses.flush();
    assert.deepEqual(errors, ['save']);
    assert.equal(await responses.load('tenant-a', 'resp_2'), undefined);

    responses.start();
    now += DAY;
    assert.equal(await responses.load('tenant-a', 'resp_1'), undefined);
    const remaining = async () =>
      Number(
        (
          await store.db
            .selectFrom('stored_response')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const deadline = Date.now() + 10_000;
    while ((await remaining()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await remaining(), 0, 'the periodic prune deleted the expired row');
    await responses.close();
  });
});
