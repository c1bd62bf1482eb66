import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.ts';

const SK = 'sk_test_config_0123456789abcdef';
const WHSEC = 'whsec_config_0123456789abcdef';
const URLS = { successUrl: 'https://console.example.com/paid', cancelUrl: 'https://console.example.com/cancelled' };

describe('the billing.stripe setting (docs/billing.md)', () => {
  test('absent: Stripe deposits are off', () => {
    assert.equal(parseConfig({}, {}).billing.stripe, undefined);
  });

  test('both secrets by reference (env: and file:), with the documented defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'modro-stripe-cfg-'));
    writeFileSync(join(dir, 'whsec'), `${WHSEC}\n`);
    const config = parseConfig(
      { billing: { stripe: { secretKey: 'env:STRIPE_KEY', webhookSecret: `file:${join(dir, 'whsec')}`, ...URLS } } },
      { STRIPE_KEY: SK },
    );
    assert.deepEqual(config.billing.stripe, {
      secretKey: SK,
      webhookSecret: WHSEC,
      ...URLS,
      minUsd: 5,
      maxUsd: 10_000,
      toleranceSeconds: 300,
    });
  });

  test('a missing secret or a bad field is refused by its name, never echoing a secret', () => {
    assert.throws(
      () => parseConfig({ billing: { stripe: { secretKey: 'env:NOPE', webhookSecret: WHSEC, ...URLS } } }, {}),
      /billing\.stripe\.secretKey: environment variable NOPE is not set/,
    );
    for (const bad of [{ successUrl: 'not a url' }, { maxUsd: 1_000_000 }, { webhookSecret: '' }, { extra: 1 }]) {
      assert.throws(
        () => parseConfig({ billing: { stripe: { secretKey: SK, webhookSecret: WHSEC, ...URLS, ...bad } } }, {}),
        (err: unknown) =>
          err instanceof ConfigError &&
          /billing\.stripe/.test(err.message) &&
          !err.message.includes(SK) &&
          !err.message.includes(WHSEC),
      );
    }
  });
});
