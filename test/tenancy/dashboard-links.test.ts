import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DashboardLinks, signLink, verifyLink } from '../../src/tenancy/dashboard-links.ts';
import { deriveKeys } from '../../src/tenancy/secret.ts';

const key = deriveKeys('k'.repeat(40)).dashboardLink;
const otherKey = deriveKeys('o'.repeat(40)).dashboardLink;
const NOW = 1_800_000_000_000;

describe('signed dashboard links', () => {
  const token = signLink(key, { tenantId: 'acme', issuedAt: NOW, expiresAt: NOW + 3_600_000 });

  test('a valid link names its tenant, issue time and expiry', () => {
    assert.deepEqual(verifyLink(key, token, NOW + 1), {
      ok: true,
      claims: { tenantId: 'acme', issuedAt: NOW, expiresAt: NOW + 3_600_000 },
    });
  });

  test('tampering with any part breaks the signature', () => {
    const [tenant, issued, expires, sig] = token.split('.') as [string, string, string, string];
    const forged = [
      ['globex', issued, expires, sig],
      [tenant, String(Number(issued) + 1), expires, sig],
      [tenant, issued, String(Number(expires) + 86_400_000), sig],
      [tenant, issued, expires, `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`],
    ];
    for (const parts of forged)
      assert.deepEqual(verifyLink(key, parts.join('.'), NOW), { ok: false, reason: 'signature' });
    assert.deepEqual(verifyLink(key, `${token}x`, NOW), { ok: false, reason: 'malformed' });
    assert.deepEqual(verifyLink(key, 'acme', NOW), { ok: false, reason: 'malformed' });
  });

  test('another tenant’s signature or another server’s secret does not verify', () => {
    const globex = signLink(key, { tenantId: 'globex', issuedAt: NOW, expiresAt: NOW + 3_600_000 });
    const swapped = ['acme', ...globex.split('.').slice(1)].join('.');
    assert.equal(verifyLink(key, swapped, NOW).ok, false);
    assert.equal(verifyLink(otherKey, token, NOW).ok, false);
  });

  test('expired links are refused', () => {
    assert.deepEqual(verifyLink(key, token, NOW + 3_600_000), { ok: false, reason: 'expired' });
  });

  test('the hot path reuses a cached link; revocation or the refresh interval re-signs it', () => {
    let now = NOW;
    const links = new DashboardLinks({ key, ttlMs: 3_600_000, refreshMs: 600_000, now: () => now });
    links.setBaseUrl('https://gw.example.com/');
    const first = links.urlFor('acme', 0);
    assert.match(first, /^https:\/\/gw\.example\.com\/client\/open\?link=acme\./);
    now += 599_999;
    assert.equal(links.urlFor('acme', 0), first, 'cached within the refresh interval');
    now += 1;
    const refreshed = links.urlFor('acme', 0);
    assert.notEqual(refreshed, first);
    const revokedAt = now + 5;
    const afterRevoke = links.urlFor('acme', revokedAt);
    const claims = verifyLink(key, afterRevoke.split('link=')[1]!, now);
    assert.ok(claims.ok && claims.claims.issuedAt >= revokedAt, 'a link after revocation is issued at or after it');
  });
});
