import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayError } from '../../src/core/errors.ts';
import { ProviderHealth } from '../../src/pipeline/health.ts';
import type { ProviderSpec } from '../../src/providers/types.ts';
import { DEFAULT_UPSTREAM_LIMITS } from '../helpers/upstream-limits.ts';

const provider: ProviderSpec = {
  id: 'p',
  kind: 'openai',
  baseUrl: '',
  keys: [
    { id: 'k1', secret: 'a' },
    { id: 'k2', secret: 'b' },
  ],
  options: {},
  timeouts: { connectMs: 1, firstByteMs: 1, totalMs: 1 },
  limits: DEFAULT_UPSTREAM_LIMITS,
};
const down = new GatewayError('provider_unavailable', 'down');

describe('provider key health', () => {
  test('keys rotate round-robin', () => {
    const health = new ProviderHealth({ failureThreshold: 3, cooldownMs: 1000, rejectedKeyRetryMs: 5000 });
    assert.deepEqual(
      [1, 2, 3, 4].map(() => health.pickKey(provider)?.id),
      ['k1', 'k2', 'k1', 'k2'],
    );
  });

  test('N consecutive failures open a circuit; after the cool-down one half-open probe decides', () => {
    let now = 0;
    const health = new ProviderHealth({ failureThreshold: 3, cooldownMs: 1000, rejectedKeyRetryMs: 5000 }, () => now);
    const changes: string[] = [];
    health.onChange = (s) => changes.push(`${s.keyId}:${s.state}`);
    for (let i = 0; i < 3; i++) health.onFailure('p', 'k1', down);
    assert.deepEqual(changes, ['k1:open']);
    assert.deepEqual([health.pickKey(provider)?.id, health.pickKey(provider)?.id], ['k2', 'k2']);
    now = 1000;
    assert.equal(health.pickKey(provider, new Set(['k2']))?.id, 'k1', 'probe allowed after the cool-down');
    assert.equal(health.pickKey(provider, new Set(['k2'])), undefined, 'only one probe at a time');
    health.onFailure('p', 'k1', down);
    assert.equal(changes.at(-1), 'k1:open');
    now = 2000;
    assert.equal(health.pickKey(provider, new Set(['k2']))?.id, 'k1');
    health.onSuccess('p', 'k1');
    assert.equal(changes.at(-1), 'k1:closed');
  });

  test('request faults do not count against a key; a failure below the threshold keeps it in rotation', () => {
    const health = new ProviderHealth({ failureThreshold: 2, cooldownMs: 1000, rejectedKeyRetryMs: 5000 });
    for (let i = 0; i < 5; i++) health.onFailure('p', 'k1', new GatewayError('invalid_request', 'bad'));
    health.onFailure('p', 'k1', down);
    const states = health.snapshot([provider]);
    assert.equal(states[0]!.state, 'closed');
    assert.equal(states[0]!.consecutiveFailures, 1);
  });

  test('a rejected key (401/403) leaves rotation until its retry time', () => {
    let now = 0;
    const health = new ProviderHealth({ failureThreshold: 5, cooldownMs: 1000, rejectedKeyRetryMs: 5000 }, () => now);
    health.onFailure(
      'p',
      'k2',
      new GatewayError('authentication_failed', 'no', { keyRejected: true, upstreamStatus: 401 }),
    );
    assert.deepEqual(
      [1, 2, 3].map(() => health.pickKey(provider)?.id),
      ['k1', 'k1', 'k1'],
    );
    assert.equal(health.snapshot([provider])[1]!.state, 'rejected');
    now = 5000;
    assert.ok([1, 2].map(() => health.pickKey(provider)?.id).includes('k2'));
  });

  test('a 429 with Retry-After rests the key for that long', () => {
    let now = 0;
    const health = new ProviderHealth({ failureThreshold: 5, cooldownMs: 100, rejectedKeyRetryMs: 5000 }, () => now);
    health.onFailure('p', 'k1', new GatewayError('rate_limited', 'slow down', { retryAfter: 3 }));
    now = 2999;
    assert.equal(health.pickKey(provider, new Set(['k2'])), undefined);
    now = 3000;
    assert.equal(health.pickKey(provider, new Set(['k2']))?.id, 'k1');
  });
});
