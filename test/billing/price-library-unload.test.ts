import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { libraryPrice, priceLibraryLoaded, withPriceLibrary } from '../../src/billing/prices.ts';
import { buildCatalog } from '../../src/catalog/catalog.ts';
import { parseConfig } from '../../src/config/load.ts';
import { collectedInChild } from '../helpers/collected.ts';

const pricesModule = fileURLToPath(new URL('../../src/billing/prices.ts', import.meta.url));

describe('price library lifetime', () => {
  test('a catalog build loads the library for its lookups and leaves it unloaded', () => {
    const catalog = buildCatalog(parseConfig({}), { OPENAI_API_KEY: 'sk-test-0123456789' });
    const mini = catalog.byId.get('openai/gpt-4o-mini');
    assert.ok(mini && mini.price.input > 0, 'the known model got its price from the library');
    assert.equal(priceLibraryLoaded(), false);
  });

  test('nested lookups share one load; the outermost one unloads', () => {
    withPriceLibrary(() => {
      assert.ok(libraryPrice('openai', 'gpt-4o'));
      assert.equal(priceLibraryLoaded(), true, 'still loaded inside the outer scope');
      assert.ok(libraryPrice('anthropic', 'claude-sonnet-4-5'));
    });
    assert.equal(priceLibraryLoaded(), false);
  });

  test('once unloaded, the garbage collector takes the library', () => {
    // In a child with --expose-gc: a weak reference to the library's exports, taken while it is loaded,
    // is empty after a full collection.
    const collected = collectedInChild(`
      import { createRequire } from 'node:module';
      const { withPriceLibrary, libraryPrice } = await import(${JSON.stringify(pricesModule)});
      let ref;
      withPriceLibrary(() => {
        libraryPrice('openai', 'gpt-4o');
        ref = new WeakRef(createRequire(import.meta.url)('@pydantic/genai-prices'));
      });`);
    assert.equal(collected, true);
  });
});
