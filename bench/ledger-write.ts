/**
 * CPU per billed request of the ledger alone (docs/billing.md): a hold and its settlement in memory, and their
 * two entries written by the batched writer (one flush per 70 requests, about what 50 ms hold at 1,400 req/s),
 * on a SQLite file in a temp folder. Compare commits by running it in each worktree.
 *
 *   node bench/ledger-write.ts [--rounds 300]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Ledger } from '../src/billing/ledger.ts';
import { openStore } from '../src/store/db.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '300' } } });
const rounds = Number(values.rounds);
const PER_FLUSH = 70;

const dir = mkdtempSync(join(tmpdir(), 'modro-ledger-write-'));
const store = await openStore({ kind: 'sqlite', path: join(dir, 'modro.db') });
const now = Date.now();
await store.db
  .insertInto('tenant')
  .values({
    id: 'bench',
    name: 'bench',
    preset: null,
    utility_model: null,
    fast_model: null,
    deep_model: null,
    allowed_models: null,
    groups: null,
    byok_provider: null,
    key_hmac: null,
    links_valid_after: 0,
    created_at: now,
    updated_at: now,
  })
  .execute();
const ledger = new Ledger({ db: store.db, flushIntervalMs: 3_600_000 });
await ledger.start({ recover: false });
await ledger.manual({ tenantId: 'bench', kind: 'credit', amountNano: 1e15, admin: 'bench', reason: 'bench' });

let n = 0;
async function round(): Promise<void> {
  for (let i = 0; i < PER_FLUSH; i++) {
    const held = ledger.hold({ tenantId: 'bench', keyId: 'key_bench', requestId: `req_${n++}`, amountNano: 1_000 });
    if (!held.ok) throw held.error;
    held.hold.settle(500);
  }
  await ledger.flush();
}

for (let i = 0; i < 100; i++) await round();
const before = process.cpuUsage();
for (let i = 0; i < rounds; i++) await round();
const used = process.cpuUsage(before);
console.log(
  `${((used.user + used.system) / (rounds * PER_FLUSH)).toFixed(2)} us of CPU per request (hold + settle, 2 entries, ` +
    `${PER_FLUSH} requests per flush, ${rounds} flushes)`,
);
await ledger.close();
await store.close();
rmSync(dir, { recursive: true, force: true });
