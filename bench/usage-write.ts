/**
 * CPU per usage record of the batched database write alone (`writeUsageBatch`: raw rows, their indexes and the
 * hourly rollups) on a SQLite file in a temp folder, in batches of --batch records (the usage writer's flush:
 * at 1 s intervals, one second of traffic), after a warm-up. Compare commits by running it in each worktree.
 *
 *   node bench/usage-write.ts [--batch 2000] [--rounds 30]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '../src/store/db.ts';
import { type UsageRecord, writeUsageBatch } from '../src/store/usage.ts';

const { values } = parseArgs({
  options: { batch: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '30' } },
});
const batch = Number(values.batch);
const rounds = Number(values.rounds);
const dir = mkdtempSync(join(tmpdir(), 'modro-usage-write-'));
const store = await openStore({ kind: 'sqlite', path: join(dir, 'modro.db') });
let n = 0;
const models = ['gpt-4.1-nano', 'gpt-4o-mini', 'gpt-4.1-mini', 'gpt-4o'];
function record(): UsageRecord {
  const i = n++;
  return {
    requestId: `req_${i.toString(36).padStart(12, '0')}`,
    at: Date.now(),
    tenantId: `tenant_${i % 50}`,
    keyId: `key_${i % 200}`,
    protocol: 'openai-chat',
    requestedModel: 'fast',
    tier: 'fast',
    preset: 'balanced',
    routerScore: null,
    chooser: null,
    modelId: models[i % models.length]!,
    providerId: 'mock',
    providerKeyId: 'mock#1',
    attempts: 1,
    stream: false,
    inputTokens: 25,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 40,
    reasoningTokens: 0,
    costNanoUsd: 12_345,
    latencyMs: 3,
    ttfbMs: null,
    status: 200,
    errorCode: null,
  };
}
const round = () => writeUsageBatch(store.db, Array.from({ length: batch }, record));
for (let i = 0; i < 5; i++) await round();
const before = process.cpuUsage();
for (let i = 0; i < rounds; i++) await round();
const used = process.cpuUsage(before);
console.log(
  `${((used.user + used.system) / (rounds * batch)).toFixed(2)} us of CPU per usage record (${batch} a batch, ${rounds} batches)`,
);
await store.close();
rmSync(dir, { recursive: true, force: true });
