import assert from 'node:assert/strict';
import { test } from 'node:test';
import { depositFee, MAX_MANUAL_NANO, monthStart, parseAmount } from '../../src/billing/amounts.ts';

/** Money in: dollars as text to integer nano-dollars exactly, and the deposit fee rounded once, half up. */

test('dollars as text become nano-dollars exactly; anything else is refused', () => {
  assert.equal(parseAmount({ usd: '12.50' }), 12_500_000_000);
  assert.equal(parseAmount({ usd: '0.000000001' }), 1);
  assert.equal(parseAmount({ usd: '0.1' }), 100_000_000, 'no float: 0.1 is exact');
  assert.equal(parseAmount({ usd: 0.3 }), 300_000_000);
  assert.equal(parseAmount({ usd: '1000000' }), MAX_MANUAL_NANO);
  assert.equal(parseAmount({ nano: 42 }), 42);
  assert.equal(parseAmount({ nano: '42' }), 42);
  for (const usd of ['-1', '1e3', '1.0000000001', 'abc', '', ' ', '1,5', '0x10', '10000000', 'Infinity', 'NaN']) {
    assert.equal(parseAmount({ usd }), undefined, usd);
  }
  for (const nano of [1.5, Number.NaN, 2 ** 53, '1.5', '-1', true, null]) {
    assert.equal(parseAmount({ nano }), undefined, String(nano));
  }
  assert.equal(parseAmount({}), undefined);
});

test('the deposit fee is basis points of the deposit, rounded half up to a nano-dollar, exact at any size', () => {
  assert.equal(depositFee(100_000_000_000, 400), 4_000_000_000);
  assert.equal(depositFee(12, 400), 0, '0.48 rounds down');
  assert.equal(depositFee(13, 400), 1, '0.52 rounds up');
  assert.equal(depositFee(25, 200), 1, '0.5 rounds up');
  assert.equal(depositFee(MAX_MANUAL_NANO, 400), 40_000_000_000_000, 'no float error near 2^53');
  assert.equal(depositFee(999_999_999_999_999, 333), 33_300_000_000_000);
  assert.equal(depositFee(5_000, 0), 0);
});

test('months are UTC calendar months', () => {
  assert.equal(monthStart(Date.UTC(2026, 11, 31, 23, 59, 59)), Date.UTC(2026, 11, 1));
  assert.equal(monthStart(Date.UTC(2027, 0, 1)), Date.UTC(2027, 0, 1));
});

test('ledger writes split a batch into chunks of 128, 16, 4 and 1 rows: every row once, in order, few SQL shapes', async () => {
  const { fixedSizeChunks } = await import('../../src/billing/ledger.ts');
  for (const n of [0, 1, 3, 4, 17, 127, 128, 129, 500, 1000]) {
    const rows = Array.from({ length: n }, (_, i) => i);
    const chunks = fixedSizeChunks(rows);
    assert.deepEqual(chunks.flat(), rows, `${n} rows`);
    assert.ok(
      chunks.every((c) => [128, 16, 4, 1].includes(c.length)),
      `${n}: sizes ${chunks.map((c) => c.length)}`,
    );
    assert.ok(chunks.length <= Math.floor(n / 128) + 7 + 3 + 3, `${n}: ${chunks.length} statements`);
  }
});
