import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfigInput } from '../../src/config/schema.ts';
import { checkEnded, openDb, processSuite, submitExecution, untilAllEnded } from '../helpers/execution-processes.ts';
import { MOCK_MEDIA_KEY, type MockOpenAIMedia, startMockOpenAIMedia } from '../mocks/openai-media.ts';

/**
 * `kill -9` of a gateway while its video executions wait on their upstream jobs (OpenAI videos, the SDK-checked
 * mock): each job was recorded on its execution's row before the first poll (decision 0038), so the restarted
 * gateway polls those jobs to the end instead of creating new ones. The provider saw exactly one creation per
 * execution, and every execution completed and settled once.
 */
const submitVideo = (url: string, key: string, i: number) =>
  submitExecution(url, key, { model: 'openai/sora-2', input: { prompt: `video number ${i}`, duration: 4 } });

for (const kind of ['sqlite', 'postgres'] as const) {
  processSuite(`kill -9 while video executions wait on their upstream jobs [${kind}]`, kind, (suite) => {
    let mock: MockOpenAIMedia;
    before(async () => {
      mock = await startMockOpenAIMedia();
    });
    after(() => mock.close());

    test('the restarted gateway resumes each recorded job: one creation upstream per execution', async (t) => {
      const storage = suite.storage();
      const config: ConfigInput = {
        storage,
        logging: { level: 'warn' },
        demo: { enabled: false },
        providers: [{ id: 'openai', kind: 'openai', baseUrl: mock.baseUrl, keys: [MOCK_MEDIA_KEY] }],
        executions: { concurrency: 4, leaseMs: 1_000, pollMs: 100, backoffMs: 50 },
      };
      const key = await suite.seedTenant(config);
      // Jobs that never finish while the first gateway lives.
      mock.pollsToComplete = 1_000_000;
      const first = await suite.spawn(config);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(await submitVideo(first.url, key, i));
      const db = openDb(storage);
      try {
        const deadline = Date.now() + 20_000;
        for (;;) {
          const rows = await db.selectFrom('execution').select(['status', 'upstream_job']).execute();
          if (rows.length === 3 && rows.every((r) => r.status === 'PROCESSING' && r.upstream_job !== null)) break;
          assert.ok(Date.now() < deadline, `jobs recorded: ${JSON.stringify(rows)}`);
          await sleep(20);
        }
        const creates = () => mock.requests.filter((r) => r.method === 'POST' && r.path === '/v1/videos').length;
        assert.equal(creates(), 3);
        first.child.kill('SIGKILL');
        await first.stop('SIGKILL');
        const recorded = await db.selectFrom('execution').select(['id', 'upstream_job']).execute();
        const jobs = recorded.map((r) => JSON.parse(r.upstream_job!) as { id: string; key: string; provider: string });
        assert.deepEqual(new Set(jobs.map((j) => j.id)), new Set(mock.videos.keys()), 'the jobs the provider made');
        assert.ok(jobs.every((j) => j.provider === 'openai' && j.key === 'openai#1'));
        assert.ok(!JSON.stringify(recorded).includes(MOCK_MEDIA_KEY), 'no secret on the rows');

        // The jobs finish while no gateway runs; the next one must find them.
        mock.pollsToComplete = 0;
        const second = await suite.spawn(config);
        await untilAllEnded(db, ids.length, 30_000);
        assert.equal(await second.stop('SIGTERM'), 0, second.output());
        const rows = await checkEnded(db, ids, { records: false });
        t.diagnostic(`attempts: ${rows.map((r) => r.attempts).join(', ')}; creations upstream: ${creates()}`);
        assert.ok(
          rows.every((r) => r.status === 'COMPLETED'),
          JSON.stringify(rows.map((r) => [r.status, r.error_message])),
        );
        // At least 2: under load a lease may also expire after the restart; that run resumes the same job too.
        assert.ok(
          rows.every((r) => Number(r.attempts) >= 2),
          'each ran again after the kill',
        );
        assert.equal(creates(), 3, 'exactly one creation upstream per execution');
        for (const row of rows) {
          const output = JSON.parse(row.output!) as { files: string[] };
          assert.equal(output.files.length, 1);
        }
        for (const video of mock.videos.values()) assert.equal(video.deleted, false);
      } finally {
        await db.destroy();
      }
    });
  });
}
