import assert from 'node:assert/strict';
import { test } from 'node:test';
import { machineTicks, stealShare } from '../../bench/lib/proc.ts';

test('machineTicks reads the machine line of /proc/stat', { skip: process.platform !== 'linux' }, () => {
  const first = machineTicks();
  assert.ok(first, 'a reading on Linux');
  assert.ok(first.total > 0 && first.steal >= 0 && first.steal <= first.total, JSON.stringify(first));
  let spin = 0;
  const until = Date.now() + 50;
  while (Date.now() < until) spin++;
  const second = machineTicks()!;
  assert.ok(second.total >= first.total && second.steal >= first.steal, `${JSON.stringify(first)} ${spin}`);
});

test('stealShare is the steal added between two readings over the time added', () => {
  assert.equal(stealShare({ total: 1000, steal: 10 }, { total: 1400, steal: 30 }), 0.05);
  assert.equal(stealShare({ total: 1000, steal: 10 }, { total: 1000, steal: 10 }), undefined);
  assert.equal(stealShare(undefined, { total: 1400, steal: 30 }), undefined);
  assert.equal(stealShare({ total: 1000, steal: 10 }, undefined), undefined);
});
