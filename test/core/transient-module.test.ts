import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.ts';
import { transientModule } from '../../src/core/transient-module.ts';
import { collectedInChild } from '../helpers/collected.ts';

const require = createRequire(import.meta.url);
const yamlFilesLoaded = () => Object.keys(require.cache).filter((id) => id.includes('/node_modules/yaml/')).length;
const transientModulePath = fileURLToPath(new URL('../../src/core/transient-module.ts', import.meta.url));

describe('transient modules', () => {
  test('use loads the package, nested calls share the load, the outermost one drops every file of it', () => {
    const yaml = transientModule<typeof import('yaml')>('yaml');
    assert.equal(yaml.loaded(), false);
    const value = yaml.scope(() => {
      assert.equal(yaml.loaded(), false, 'scope alone loads nothing');
      const first = yaml.use((module) => module.parse('a: 1'));
      assert.equal(yaml.loaded(), true);
      assert.ok(yamlFilesLoaded() > 1, 'the package is several files');
      return { ...first, ...yaml.use((module) => module.parse('b: [2, 3]')) };
    });
    assert.deepEqual(value, { a: 1, b: [2, 3] });
    assert.equal(yaml.loaded(), false);
    assert.equal(yamlFilesLoaded(), 0);
  });

  test('reading the configuration leaves the YAML parser unloaded', () => {
    const dir = mkdtempSync(join(tmpdir(), 'modro-transient-'));
    writeFileSync(join(dir, 'modro.yaml'), 'server:\n  port: 9123\n');
    const config = loadConfig(join(dir, 'modro.yaml'), { MODRO__LOGGING__LEVEL: 'warn' });
    assert.equal(config.server.port, 9123);
    assert.equal(config.logging.level, 'warn');
    assert.equal(yamlFilesLoaded(), 0);
  });

  test('a dropped package is taken by the garbage collector', () => {
    const collected = collectedInChild(`
      const { transientModule } = await import(${JSON.stringify(transientModulePath)});
      const yaml = transientModule('yaml');
      const ref = yaml.use((module) => new WeakRef(module.parse));`);
    assert.equal(collected, true);
  });
});
