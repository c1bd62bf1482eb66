import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProviderSpec } from '../../src/providers/types.ts';
import { detectProviderHint, providerForHint } from '../../src/tenancy/byok-detect.ts';
import { byokHmac, byokTenantId } from '../../src/tenancy/byok-identity.ts';
import { deriveKeys } from '../../src/tenancy/secret.ts';
import { DEFAULT_UPSTREAM_LIMITS } from '../helpers/upstream-limits.ts';

const spec = (id: string, kind: ProviderSpec['kind']): ProviderSpec => ({
  id,
  kind,
  baseUrl: 'http://x',
  keys: [],
  options: {},
  timeouts: { connectMs: 1, firstByteMs: 1, totalMs: 1 },
  limits: DEFAULT_UPSTREAM_LIMITS,
});

describe('bring-your-own-key detection', () => {
  test('published key prefixes map to their provider kind, longest prefix first', () => {
    const cases: Array<[string, string | undefined]> = [
      ['sk-proj-abcdefghijklmnopqrstuvwxyz012345', 'openai'],
      ['sk-abcdefghijklmnopqrstuvwxyz012345', 'openai'],
      ['sk-ant-api03-abcdefghijklmnopqrstuvwxyz', 'anthropic'],
      ['sk-or-v1-abcdefghijklmnopqrstuvwxyz0123', 'openrouter'],
      ['AIzaSyAbcdefghijklmnopqrstuvwxyz012345', 'gemini'],
      ['gsk_abcdefghijklmnopqrstuvwxyz012345', 'groq'],
      ['xai-abcdefghijklmnopqrstuvwxyz012345', 'xai'],
      ['csk-abcdefghijklmnopqrstuvwxyz012345', 'cerebras'],
      ['mdro_abcdefghijklmnopqrstuvwxyz012345', undefined],
      ['sk-short', undefined],
      ['sk-has spaces in it abcdefghijklmnop', undefined],
      ['0123456789abcdef0123456789abcdef', undefined],
    ];
    for (const [token, kind] of cases) assert.equal(detectProviderHint(token, undefined), kind, token);
  });

  test('an explicit X-Modro-Provider header wins over the prefix (keys without a prefix)', () => {
    assert.equal(detectProviderHint('0123456789abcdef0123456789abcdef', 'Mistral'), 'mistral');
    assert.equal(detectProviderHint('sk-abcdefghijklmnopqrstuvwxyz012345', 'deepseek'), 'deepseek');
  });

  test('a hint resolves to a configured provider: by id, then the one named like the kind, then the first', () => {
    const providers = new Map([
      ['openai-eu', spec('openai-eu', 'openai')],
      ['openai', spec('openai', 'openai')],
      ['corp-bedrock', spec('corp-bedrock', 'bedrock')],
      ['my-groq', spec('my-groq', 'groq')],
    ]);
    assert.equal(providerForHint('openai', providers)?.id, 'openai');
    assert.equal(providerForHint('openai-eu', providers)?.id, 'openai-eu');
    assert.equal(providerForHint('groq', providers)?.id, 'my-groq');
    assert.equal(providerForHint('anthropic', providers), undefined, 'not configured');
    assert.equal(providerForHint('corp-bedrock', providers), undefined, 'bedrock takes no single bearer key');
  });

  test('the tenant id is a keyed hash: stable per key, different per key, per provider and per secret', () => {
    const a = deriveKeys('a'.repeat(40)).byokTenant;
    const b = deriveKeys('b'.repeat(40)).byokTenant;
    const key = 'sk-abcdefghijklmnopqrstuvwxyz012345';
    const id = byokTenantId(byokHmac(a, 'openai', key));
    assert.match(id, /^byok_[0-9a-f]{32}$/);
    assert.equal(byokTenantId(byokHmac(a, 'openai', key)), id);
    assert.notEqual(byokTenantId(byokHmac(a, 'openai', `${key}x`)), id);
    assert.notEqual(byokTenantId(byokHmac(a, 'deepseek', key)), id);
    assert.notEqual(byokTenantId(byokHmac(b, 'openai', key)), id);
    assert.ok(!id.includes(key.slice(3, 12)));
  });
});
