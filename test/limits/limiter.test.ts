import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { blockListOf, inRanges, parseCidr } from '../../src/core/cidr.ts';
import type { CompiledLimits } from '../../src/limits/key-limits.ts';
import { formatReset, MemoryLimiter, periodStart } from '../../src/limits/limiter.ts';
import { SlidingWindow } from '../../src/limits/sliding-window.ts';

/** The limiter on a clock the test moves: window edges, waits, corrections and quota periods, exactly. */

function limits(partial: Partial<CompiledLimits>): CompiledLimits {
  return {
    rpm: undefined,
    tpm: undefined,
    quota: undefined,
    ips: undefined,
    models: undefined,
    scopes: undefined,
    ...partial,
  };
}

function limiterAt(start: number, spent = 0) {
  const clock = { now: start };
  const limiter = new MemoryLimiter({ now: () => clock.now, spentSince: async () => spent });
  return { clock, limiter };
}

describe('sliding window', () => {
  test('an amount stays until one window after the end of its 100 ms bucket, never less; late corrections are ignored', () => {
    const w = new SlidingWindow(60_000);
    const a = w.add(1_000, 10); // bucket (900, 1000]
    w.add(30_050, 5); // bucket (30000, 30100]
    w.prune(60_999);
    assert.equal(w.sum, 15);
    w.prune(61_000);
    assert.equal(w.sum, 5, 'counted at 1000 ms, gone exactly 60 s later');
    w.correct(a, 1_000);
    assert.equal(w.sum, 5, 'a correction of a bucket that left is ignored');
    w.prune(90_050);
    assert.equal(w.sum, 5, 'counted at 30050 ms: held to the end of its bucket, 30100 + 60 s');
    assert.equal(w.untilOldestLeaves(90_050), 50);
    w.prune(90_100);
    assert.ok(w.empty);
  });

  test('memory is bounded by the buckets of one window, whatever the traffic', () => {
    const w = new SlidingWindow(60_000);
    for (let t = 0; t < 180_000; t++) {
      w.prune(t);
      w.add(t, 1); // a request every millisecond: 1000 requests/s
    }
    assert.ok(w.sum >= 60_000 && w.sum <= 60_100, `${w.sum}: the last minute, and at most one bucket more`);
    assert.ok(w.buckets <= 601, `${w.buckets} buckets`);
  });

  test('corrections change the bucket they were counted in; the wait for room walks the buckets', () => {
    const w = new SlidingWindow(1_000);
    const first = w.add(10, 4); // bucket ends 100
    w.add(150, 3); // ends 200
    const third = w.add(160, 2); // same bucket
    w.correct(third, 5); // 2 → 7: the bucket ending at 200 holds 10
    w.correct(first, -4);
    assert.equal(w.sum, 10);
    assert.equal(w.untilSumAtMost(0, 500), 700, 'the bucket ending at 200 leaves at 1200');
    assert.equal(w.untilSumAtMost(10, 500), 0);
  });
});

describe('key limiter', () => {
  test('rpm: a full window refuses until its oldest request leaves, with the wait in Retry-After', () => {
    const { clock, limiter } = limiterAt(1_000_000);
    const l = limits({ rpm: 2 });
    assert.ok(limiter.take('k', l, 0).ok);
    clock.now += 20_000;
    const second = limiter.take('k', l, 0);
    assert.ok(second.ok);
    assert.deepEqual(second.ticket.headers(), {
      'x-ratelimit-limit-requests': '2',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '40s',
    });
    clock.now += 10_000;
    const refused = limiter.take('k', l, 0);
    assert.ok(!refused.ok);
    assert.equal(refused.error.code, 'rate_limited');
    assert.equal(refused.error.retryAfter, 30);
    clock.now += 30_000; // the first request is now exactly 60 s old
    assert.ok(limiter.take('k', l, 0).ok);
    assert.ok(!limiter.take('k', l, 0).ok);
    limiter.close();
  });

  test('tpm: the estimate holds its place until settled with the real tokens', () => {
    const { limiter } = limiterAt(0);
    const l = limits({ tpm: 100 });
    const first = limiter.take('k', l, 60);
    assert.ok(first.ok);
    assert.ok(!limiter.take('k', l, 50).ok, '60 + 50 > 100');
    first.ticket.settle(20, 0);
    first.ticket.settle(90, 0); // settled once
    assert.equal(first.ticket.headers()['x-ratelimit-remaining-tokens'], '80');
    assert.ok(limiter.take('k', l, 50).ok);
    limiter.close();
  });

  test('quota: spend is loaded, added as requests settle, refused once reached, and restarts with a new period', async () => {
    const { clock, limiter } = limiterAt(Date.UTC(2026, 0, 31, 23, 59), 900);
    const l = limits({ quota: { nanoUsd: 1_000, period: 'daily' } });
    await limiter.quotaReady('k', l.quota!);
    const taken = limiter.take('k', l, 0);
    assert.ok(taken.ok);
    taken.ticket.settle(0, 150);
    assert.equal(limiter.spent('k'), 1_050);
    const refused = limiter.take('k', l, 0);
    assert.ok(!refused.ok);
    assert.equal(refused.error.code, 'quota_exceeded');
    assert.equal(refused.error.status, 402);
    clock.now = Date.UTC(2026, 1, 1, 0, 1); // a new UTC day
    assert.equal(limiter.quotaReady('k', l.quota!), undefined, 'the next period needs no query');
    assert.ok(limiter.take('k', l, 0).ok);
    limiter.close();
  });

  test('a ticket settled after its key was swept from memory does not touch the new window', () => {
    const { clock, limiter } = limiterAt(0);
    const l = limits({ tpm: 100 });
    const old = limiter.take('k', l, 10);
    assert.ok(old.ok);
    clock.now = 120_000;
    limiter.sweep();
    assert.equal(limiter.activeKeys, 0);
    const fresh = limiter.take('k', l, 30);
    assert.ok(fresh.ok);
    old.ticket.settle(90, 0);
    assert.equal(fresh.ticket.headers()['x-ratelimit-remaining-tokens'], '70');
    limiter.close();
  });

  test('a quota not loaded yet is never let through unmetered', () => {
    const { limiter } = limiterAt(0);
    const refused = limiter.take('k', limits({ quota: { nanoUsd: 1, period: 'total' } }), 0);
    assert.ok(!refused.ok);
    limiter.close();
  });

  test('periods and reset durations', () => {
    const at = Date.UTC(2026, 11, 7, 15, 30);
    assert.equal(periodStart('total', at), 0);
    assert.equal(periodStart('daily', at), Date.UTC(2026, 11, 7));
    assert.equal(periodStart('monthly', at), Date.UTC(2026, 11, 1));
    assert.equal(formatReset(20.2), '21ms');
    assert.equal(formatReset(1_500), '1.5s');
    assert.equal(formatReset(60_000), '1m0s');
  });
});

describe('CIDR ranges', () => {
  test('IPv4, IPv6 and IPv4-mapped addresses; malformed ranges are named', () => {
    const ips = blockListOf(['10.0.0.0/8', '2001:db8::/32', '192.0.2.1']);
    assert.ok(inRanges(ips, '10.200.1.1'));
    assert.ok(inRanges(ips, '::ffff:10.0.0.1'));
    assert.ok(inRanges(ips, '2001:db8:1::5'));
    assert.ok(inRanges(ips, '192.0.2.1'));
    assert.ok(!inRanges(ips, '192.0.2.2'));
    assert.ok(!inRanges(ips, '11.0.0.1'));
    assert.ok(!inRanges(ips, ''), 'an unknown address is outside every range');
    assert.match(String(parseCidr('10.0.0.0/33')), /0 to 32/);
    assert.match(String(parseCidr('::/129')), /0 to 128/);
    assert.match(String(parseCidr('10.0.0/8')), /not an IPv4 or IPv6/);
  });
});
