import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { dropSchema, PNG, postgresProblem, upload } from '../files/helpers.ts';
import { isCI } from '../helpers/ci.ts';
import { POSTGRES_TEST_URL } from '../helpers/databases.ts';
import { mockProvider, startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * The crash window of Idempotency-Key on creating POSTs (docs/idempotency.md): the process dies right after the
 * execution's (or the file's) row commits and before anything else runs. Simulated in process: the service's
 * `submit` (the store's `commit`) resolves and then never returns to the route, as if the process had died there;
 * the key's lock times out (100 ms here). A retry with the same key must get the first answer (the same id), and
 * exactly one execution (file) exists. Before the key's answer was written in the row's own transaction, the retry
 * took the key over and created a second one.
 */
const MODELS = [
  { name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast' as const], price: { input: 1000, output: 1000 } },
];
const pgProblem = await postgresProblem();

/** Makes `target[name]` run and then never come back (until `resume`), as a process killed right after it. */
function dieAfter<T extends object, K extends keyof T>(target: T, name: K) {
  const original = target[name] as (...args: unknown[]) => Promise<unknown>;
  let resume!: () => void;
  const dead = new Promise<void>((r) => {
    resume = r;
  });
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  (target as Record<K, unknown>)[name] = async (...args: unknown[]) => {
    const out = await original.apply(target, args);
    done();
    await dead;
    return out;
  };
  return {
    finished,
    /** A restarted process: the method runs normally again; the dead request stays dead. */
    restart() {
      (target as Record<K, unknown>)[name] = original;
    },
    /** The end of the test: the dead request finishes (its answer no longer matters). */
    release: resume,
  };
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`Idempotency-Key: a crash right after the commit [${kind}]`, {
    skip: kind === 'postgres' && pgProblem !== undefined && !isCI() ? `PostgreSQL unreachable (${pgProblem})` : false,
  }, () => {
    const schema = `t_idem_crash_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    let mock: MockOpenAI;
    let gw: TestGateway;
    before(async () => {
      mock = await startMockOpenAI();
      gw = await startGateway({
        demo: { enabled: false },
        providers: [mockProvider('up', mock.url, MODELS)],
        idempotency: { lockTimeoutMs: 100 },
        executions: { enabled: false },
        ...(kind === 'postgres' ? { storage: { kind: 'postgres' as const, url: POSTGRES_TEST_URL, schema } } : {}),
      });
    });
    after(async () => {
      await gw?.close();
      await mock?.close();
      if (kind === 'postgres' && !pgProblem) await dropSchema(schema);
    });

    test('POST /v1/executions: the retry gets the committed execution, not a second one', async () => {
      const marker = `crash-${Math.random().toString(36).slice(2)}`;
      const body = {
        model: 'fast',
        input: { max_tokens: 8, messages: [{ role: 'user', content: 'once' }] },
        metadata: { marker },
      };
      const headers = { 'idempotency-key': marker };
      const crash = dieAfter(gw.runtime.executions.service, 'submit');
      const first = gw.post('/v1/executions', body, headers).catch(() => undefined);
      await crash.finished;
      const [row] = await gw.runtime.store.db
        .selectFrom('execution')
        .select('id')
        .where('metadata', 'like', `%${marker}%`)
        .execute();
      assert.ok(row, 'the execution committed before the "crash"');
      await sleep(200); // past the key's lock timeout: the dead request's key may be taken over
      crash.restart();
      try {
        const retry = await gw.post('/v1/executions', body, headers);
        const answered = (await retry.json()) as { id: string };
        assert.equal(retry.status, 202, JSON.stringify(answered));
        assert.equal(retry.headers.get('idempotent-replayed'), 'true');
        assert.equal(answered.id, row.id, 'the execution the first request created');
        const rows = await gw.runtime.store.db
          .selectFrom('execution')
          .select('id')
          .where('metadata', 'like', `%${marker}%`)
          .execute();
        assert.equal(rows.length, 1, 'one execution for the key');
      } finally {
        crash.release();
        await first;
      }
    });

    test('POST /v1/files: the retry gets the committed file, not a second one', async () => {
      const filename = `crash-${Math.random().toString(36).slice(2)}.png`;
      const parts = [
        { name: 'purpose', value: 'execution_input' },
        { name: 'file', bytes: PNG, filename, type: 'image/png' },
      ];
      const headers = { 'idempotency-key': filename };
      const crash = dieAfter(gw.runtime.files, 'commit');
      const first = upload(gw, TEST_API_KEY, parts, headers).catch(() => undefined);
      await crash.finished;
      const stored = () =>
        gw.runtime.store.db.selectFrom('stored_file').select('id').where('filename', '=', filename).execute();
      const [row] = await stored();
      assert.ok(row, 'the file committed before the "crash"');
      await sleep(200);
      crash.restart();
      try {
        const retry = await upload(gw, TEST_API_KEY, parts, headers);
        const answered = (await retry.json()) as { id: string };
        assert.equal(retry.status, 200, JSON.stringify(answered));
        assert.equal(retry.headers.get('idempotent-replayed'), 'true');
        assert.equal(answered.id, row.id);
        assert.equal((await stored()).length, 1, 'one file for the key');
      } finally {
        crash.release();
        await first;
      }
    });
  });
}
