import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { retryDelay } from '../../src/webhooks/deliverer.ts';

/** The retry schedule: over a day by default, jitter only ever lengthens a wait, and the settings are checked. */
describe('webhook retry schedule', () => {
  it('the default schedule retries for at least 24 hours, 11 attempts in all', () => {
    const { retryScheduleMs, jitter } = parseConfig({}).webhooks;
    assert.equal(retryScheduleMs.length + 1, 11);
    const total = retryScheduleMs.reduce((a, b) => a + b, 0);
    assert.ok(total >= 24 * 3_600_000, `${total / 3_600_000} h`);
    // The shortest possible run (jitter drawn as 0 every time) still spans it.
    const shortest = retryScheduleMs.reduce((sum, _, i) => sum + retryDelay(retryScheduleMs, i, jitter, () => 0)!, 0);
    assert.equal(shortest, total);
    assert.deepEqual(retryScheduleMs.slice(0, 6), [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000]);
  });

  it('jitter lengthens each wait by at most its share, and the schedule ends', () => {
    const schedule = [1_000, 2_000];
    assert.equal(
      retryDelay(schedule, 0, 0.25, () => 0),
      1_000,
    );
    assert.equal(
      retryDelay(schedule, 0, 0.25, () => 0.999_999),
      1_250,
    );
    assert.equal(
      retryDelay(schedule, 1, 0.25, () => 0.5),
      2_250,
    );
    assert.equal(retryDelay(schedule, 2, 0.25), undefined);
    for (let i = 0; i < 1_000; i++) {
      const d = retryDelay(schedule, 0, 0.25)!;
      assert.ok(d >= 1_000 && d <= 1_250, String(d));
    }
  });

  it('refuses a lease no longer than the attempt timeout, and invalid ranges', () => {
    assert.throws(() => parseConfig({ webhooks: { leaseMs: 5_000, timeoutMs: 10_000 } }), /leaseMs must exceed/);
    assert.throws(() => parseConfig({ webhooks: { allowedNetworks: ['10.0.0.0/33'] } }), /prefix length/);
    assert.throws(() => parseConfig({ webhooks: { retryScheduleMs: [] } }));
    assert.deepEqual(parseConfig({ webhooks: { allowedNetworks: ['10.20.0.0/16'] } }).webhooks.allowedNetworks, [
      '10.20.0.0/16',
    ]);
  });
});
