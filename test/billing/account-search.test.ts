import assert from 'node:assert/strict';
import { it } from 'node:test';
import { csvField, searchAccounts, statement } from '../../src/billing/account-search.ts';
import { parseDollarsInput } from '../../src/billing/amounts.ts';
import { Ledger } from '../../src/billing/ledger.ts';
import type { Store } from '../../src/store/db.ts';
import { forEachDatabase } from '../helpers/databases.ts';

/** The admin accounts list's search and statement pages on both stores, and the form's amount parser. */
forEachDatabase('account search', (suite) => {
  it('matches id and name case-insensitively, wildcards literally, billed tenants only, paged', async () => {
    const { store } = (await suite.fresh()) as { store: Store };
    const tenants = [
      ['acme', 'Acme Inc.'],
      ['a_b', 'Under_Score'],
      ['axb', 'Plain'],
      ['pct', '100% Real'],
      ['free', 'Acme Free'],
    ];
    for (const [id, name] of tenants) {
      await store.db
        .insertInto('tenant')
        .values({ id: id!, name: name!, links_valid_after: 0, created_at: 0, updated_at: 0 })
        .execute();
    }
    const ledger = new Ledger({ db: store.db });
    await ledger.start({ recover: false });
    for (const id of ['acme', 'a_b', 'axb', 'pct']) await ledger.openAccount(id);
    for (let i = 1; i <= 7; i++) {
      await ledger.manual({ tenantId: 'acme', kind: 'credit', amountNano: i, admin: 't', reason: `r${i}` });
    }
    const ids = async (q: string | undefined, limit = 50, offset = 0) =>
      (await searchAccounts(store.db, { q, limit, offset })).rows.map((r) => r.tenantId);
    assert.deepEqual(await ids(undefined), ['a_b', 'acme', 'axb', 'pct'], 'billed only, by id');
    assert.deepEqual(await ids('ACME'), ['acme'], 'the unbilled "Acme Free" is not an account');
    assert.deepEqual(await ids('a_b'), ['a_b'], '_ is literal');
    assert.deepEqual(await ids('0%'), ['pct'], '% is literal');
    assert.deepEqual(await ids('score'), ['a_b'], 'by name');
    const page = await searchAccounts(store.db, { limit: 3, offset: 0 });
    assert.equal(page.rows.length, 3);
    assert.equal(page.more, true);
    assert.deepEqual(await ids(undefined, 3, 3), ['pct']);

    const first = await statement(store.db, 'acme', { limit: 5 });
    assert.deepEqual(
      first.map((e) => e.reason),
      ['r7', 'r6', 'r5', 'r4', 'r3'],
    );
    const older = await statement(store.db, 'acme', { limit: 5, before: first.at(-1)!.id });
    assert.deepEqual(
      older.map((e) => e.reason),
      ['r2', 'r1'],
    );
    await ledger.close();
  });
});

it('the dollars input: at most 6 decimals, positive, at most $1,000,000, exact', () => {
  assert.deepEqual(parseDollarsInput('12.5'), { ok: true, nano: 12_500_000_000 });
  assert.deepEqual(parseDollarsInput(' 0.000001 '), { ok: true, nano: 1_000 });
  assert.deepEqual(parseDollarsInput('1000000'), { ok: true, nano: 1e15 });
  assert.deepEqual(parseDollarsInput('0.29'), { ok: true, nano: 290_000_000 }, 'no float rounding');
  for (const bad of ['', '-1', '+1', '0', '0.000000', '1.0000001', '1e3', '1,5', '1000000.000001', 'abc', '.5']) {
    assert.equal(parseDollarsInput(bad).ok, false, bad);
  }
  assert.equal(csvField('=1+1'), "'=1+1");
  assert.equal(csvField('-0.5'), '-0.5');
  assert.equal(csvField('a,"b"'), '"a,""b"""');
});

it('CLI: tenants suspend needs a reason; unsuspend lifts it', async () => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { runTenancyCommand } = await import('../../src/cli/tenancy-commands.ts');
  const dir = mkdtempSync(join(tmpdir(), 'modro-suspend-cli-'));
  const config = join(dir, 'modro.yaml');
  writeFileSync(config, JSON.stringify({ storage: { kind: 'sqlite', path: join(dir, 'modro.db') } }));
  const run = async (...argv: string[]) => {
    let text = '';
    const out = {
      write: (s: string) => {
        text += s;
      },
    };
    const code = await runTenancyCommand([...argv, '--config', config], {}, out, out);
    return { code, text };
  };
  try {
    assert.equal((await run('tenants', 'create', 'acme')).code, 0);
    const noReason = await run('tenants', 'suspend', 'acme');
    assert.equal(noReason.code, 1);
    assert.match(noReason.text, /reason/);
    assert.equal((await run('tenants', 'suspend', 'nobody', '--reason', 'x')).code, 1);
    assert.equal((await run('tenants', 'suspend', 'acme', '--reason', 'chargeback')).code, 0);
    const listed = JSON.parse((await run('tenants', 'list', '--json')).text) as Array<{
      id: string;
      suspendedAt: number | null;
      suspendedReason: string | null;
    }>;
    assert.ok(listed[0]!.suspendedAt! > 0);
    assert.equal(listed[0]!.suspendedReason, 'chargeback');
    assert.equal((await run('tenants', 'unsuspend', 'acme')).code, 0);
    const after = JSON.parse((await run('tenants', 'list', '--json')).text) as Array<{ suspendedAt: number | null }>;
    assert.equal(after[0]!.suspendedAt, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
