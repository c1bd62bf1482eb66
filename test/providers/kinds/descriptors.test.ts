import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildCatalog } from '../../../src/catalog/catalog.ts';
import { parseConfig } from '../../../src/config/load.ts';
import { PROVIDER_DESCRIPTORS } from '../../../src/providers/kinds/index.ts';
import { adapterFor } from '../../../src/providers/registry.ts';
import { detectProviderHint } from '../../../src/tenancy/byok-detect.ts';

/**
 * The provider kind descriptors are the one list every part of the gateway reads (config schema, registry,
 * environment, bring-your-own-key detection, catalog): each must be complete, and none may contradict another.
 */
describe('provider kind descriptors', () => {
  test('kinds are unique, accepted by the configuration, and served by the adapter of their wire', () => {
    const ids = PROVIDER_DESCRIPTORS.map((d) => d.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const descriptor of PROVIDER_DESCRIPTORS) {
      const config = parseConfig({ providers: [{ kind: descriptor.id, keys: ['k'] }] }, {});
      const spec = buildCatalog(config, {}).providers.get(descriptor.id);
      assert.equal(spec?.kind, descriptor.id);
      assert.equal(adapterFor(spec).wire, descriptor.wire, descriptor.id);
    }
  });

  test('environment variables are unique to one kind', () => {
    const owner = new Map<string, string>();
    for (const { id, env } of PROVIDER_DESCRIPTORS) {
      if (!env) continue;
      const names = [
        ...env.keys,
        env.secretAccessKey,
        env.sessionToken,
        ...Object.values(env.options ?? {}).flatMap((o) => o.vars),
      ];
      for (const name of names) {
        if (name === undefined) continue;
        assert.equal(owner.get(name) ?? id, id, `${name} is claimed by ${owner.get(name)} and ${id}`);
        owner.set(name, id);
      }
    }
  });

  test('every published key prefix is one kind’s and detects that kind (the longer prefix wins)', () => {
    const owner = new Map<string, string>();
    for (const { id, byok } of PROVIDER_DESCRIPTORS) {
      for (const prefix of byok?.prefixes ?? []) {
        assert.equal(owner.get(prefix), undefined, `prefix ${prefix} is claimed twice`);
        owner.set(prefix, id);
        assert.equal(detectProviderHint(`${prefix}${'a1'.repeat(16)}`, undefined), id, prefix);
      }
    }
    assert.ok(owner.size > 0);
  });

  test('default base URLs are URLs, https unless the server is local', () => {
    for (const { id, defaultBaseUrl, local } of PROVIDER_DESCRIPTORS) {
      if (defaultBaseUrl === '') continue;
      const url = new URL(defaultBaseUrl.replace('{region}', 'eu-west-1'));
      assert.equal(url.protocol, local ? 'http:' : 'https:', id);
      assert.ok(!defaultBaseUrl.endsWith('/'), `${id}: no trailing slash`);
    }
  });

  test('a quirk either drops a field or renames it, never both', () => {
    for (const descriptor of PROVIDER_DESCRIPTORS) {
      if (descriptor.wire !== 'openai-compatible') continue;
      for (const field of descriptor.quirks.dropped) assert.ok(!(field in descriptor.quirks.renamed), field);
    }
  });

  test('every known model is unique in its kind, ranked 0..100, and priced (built-in or by the price library)', () => {
    for (const descriptor of PROVIDER_DESCRIPTORS) {
      if (descriptor.models.length === 0) continue;
      const names = descriptor.models.map((m) => m.name);
      assert.equal(new Set(names).size, names.length, descriptor.id);
      for (const model of descriptor.models) {
        assert.ok(model.qualityRank >= 0 && model.qualityRank <= 100, `${descriptor.id}/${model.name}`);
        assert.ok(model.maxOutputTokens <= model.contextWindow, `${descriptor.id}/${model.name}`);
      }
      const config = parseConfig(
        {
          providers: [{ kind: descriptor.id, keys: ['k'], options: { region: 'us-east-1' } }],
          demo: { enabled: descriptor.id === 'demo' },
        },
        {},
      );
      const catalog = buildCatalog(config, {});
      assert.deepEqual(catalog.warnings, [], descriptor.id);
      assert.deepEqual(
        catalog.models.map((m) => m.name),
        names,
        `${descriptor.id}: every known model is in the catalog`,
      );
    }
  });
});
