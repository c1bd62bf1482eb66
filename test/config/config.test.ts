import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.ts';

describe('configuration', () => {
  test('an empty file is a working configuration with documented defaults', () => {
    const config = parseConfig({}, {});
    assert.equal(config.server.port, 8787);
    assert.equal(config.storage.kind, 'sqlite');
    assert.equal(config.routing.defaultPreset, 'balanced');
    assert.equal(config.routing.learnedVersion, 'v6');
    assert.equal(parseConfig({ routing: { learnedVersion: 'v6' } }, {}).routing.learnedVersion, 'v6');
  });

  test('a retired learned router (routing.learnedVersion v1 to v5) is refused with the reason and the fix', () => {
    for (const [raw, env] of [
      [{ routing: { learnedVersion: 'v5' } }, {}],
      [{ routing: { learnedVersion: 'v4' } }, {}],
      [{}, { MODRO__ROUTING__LEARNED_VERSION: 'v1' }],
    ] as const) {
      assert.throws(
        () => parseConfig(raw, env),
        (e: Error) => {
          assert.ok(e instanceof ConfigError);
          assert.match(
            e.message,
            /routing\.learnedVersion: learned-v[145] was retired: v6, the only shipped learned router/,
          );
          assert.match(e.message, /remove the setting or set it to v6/);
          return true;
        },
      );
    }
    assert.throws(
      () => parseConfig({ routing: { learnedVersion: 'v7' } }, {}),
      /routing\.learnedVersion: must be v6, the only shipped learned router/,
    );
  });

  test('errors name the bad key and why', () => {
    assert.throws(
      () => parseConfig({ server: { port: 'eighty' } }, {}),
      (e: Error) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /server\.port/);
        return true;
      },
    );
    assert.throws(() => parseConfig({ routing: { defaultPreset: 'fastest' } }, {}), /routing\.defaultPreset/);
    assert.throws(() => parseConfig({ routing: { learnedVersion: 'v7' } }, {}), /routing\.learnedVersion/);
    assert.throws(() => parseConfig({ providers: [{ kind: 'nope' }] }, {}), /providers\[0\]\.kind/);
    assert.throws(() => parseConfig({ sever: {} }, {}), /sever|Unrecognized key/);
    assert.throws(
      () =>
        parseConfig(
          {
            providers: [
              { kind: 'openai', keys: ['a'] },
              { kind: 'openai', keys: ['b'] },
            ],
          },
          {},
        ),
      /providers\[1\]\.id: 'openai' is used twice/,
    );
  });

  test('secrets by reference: env: and file:', () => {
    const dir = mkdtempSync(join(tmpdir(), 'modro-cfg-'));
    writeFileSync(join(dir, 'key'), 'sk-from-file\n');
    const config = parseConfig(
      { providers: [{ kind: 'openai', keys: ['env:MY_KEY', `file:${join(dir, 'key')}`] }] },
      { MY_KEY: 'sk-from-env' },
    );
    assert.deepEqual(config.providers[0]!.keys, ['sk-from-env', 'sk-from-file']);
    assert.throws(
      () => parseConfig({ providers: [{ kind: 'openai', keys: ['env:MISSING_KEY'] }] }, {}),
      /providers\[0\]\.keys\[0\]: environment variable MISSING_KEY is not set/,
    );
  });

  test('environment overrides: MODRO__SECTION__KEY', () => {
    const config = parseConfig(
      { server: { port: 1 } },
      { MODRO__SERVER__PORT: '9999', MODRO__ROUTING__MAX_ATTEMPTS: '2' },
    );
    assert.equal(config.server.port, 9999);
    assert.equal(config.routing.maxAttempts, 2);
  });

  test('YAML files load, and unreadable or invalid files say so', () => {
    const dir = mkdtempSync(join(tmpdir(), 'modro-cfg-'));
    writeFileSync(join(dir, 'ok.yaml'), 'server:\n  port: 1234\nrouting:\n  defaultPreset: quality\n');
    assert.equal(loadConfig(join(dir, 'ok.yaml'), {}).routing.defaultPreset, 'quality');
    writeFileSync(join(dir, 'bad.yaml'), 'server: [unclosed\n');
    assert.throws(() => loadConfig(join(dir, 'bad.yaml'), {}), /not valid YAML/);
    assert.throws(() => loadConfig(join(dir, 'missing.yaml'), {}), /Cannot read configuration file/);
  });
});

test('the storage path alone (from the environment) keeps the SQLite default', () => {
  const config = parseConfig({}, { MODRO__STORAGE__PATH: '/tmp/x/modro.db' });
  assert.deepEqual(config.storage, { kind: 'sqlite', path: '/tmp/x/modro.db' });
});

describe('the redis: setting', () => {
  test('absent: one node; present: defaults, and the URL may be a reference', () => {
    assert.equal(parseConfig({}, {}).redis, undefined);
    const config = parseConfig({ redis: { url: 'env:REDIS_URL' } }, { REDIS_URL: 'redis://cache:6379/2' });
    assert.deepEqual(config.redis, {
      url: 'redis://cache:6379/2',
      keyPrefix: 'modro:',
      failMode: 'open',
      commandTimeoutMs: 500,
    });
    const env = parseConfig({}, { MODRO__REDIS__URL: 'redis://other:6379', MODRO__REDIS__FAIL_MODE: 'closed' });
    assert.equal(env.redis?.url, 'redis://other:6379');
    assert.equal(env.redis?.failMode, 'closed');
  });

  test('a failMode other than open or closed, or a missing url, is refused with its name', () => {
    assert.throws(
      () => parseConfig({ redis: { url: 'redis://x', failMode: 'maybe' } }, {}),
      (err: unknown) => err instanceof ConfigError && /redis\.failMode/.test(err.message),
    );
    assert.throws(
      () => parseConfig({ redis: { keyPrefix: 'x:' } }, {}),
      (err: unknown) => err instanceof ConfigError && /redis\.url/.test(err.message),
    );
  });
});
