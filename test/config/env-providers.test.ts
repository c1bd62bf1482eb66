import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { providersFromEnv } from '../../src/config/env-providers.ts';
import { parseConfig } from '../../src/config/load.ts';

/** Providers switched on by the usual environment variables, as docs/configuration.md lists them. */
describe('providers from the environment', () => {
  const none = parseConfig({}, {}).providers;

  test('each documented variable switches its kind on, in a fixed order', () => {
    const env = {
      OPENAI_API_KEY: 'o',
      ANTHROPIC_API_KEY: 'a',
      GOOGLE_API_KEY: 'g',
      XAI_API_KEY: 'x',
      GROQ_API_KEY: 'q',
      CEREBRAS_API_KEY: 'c',
      DEEPSEEK_API_KEY: 'd',
      MISTRAL_API_KEY: 'm',
      TOGETHER_API_KEY: 't',
      AWS_ACCESS_KEY_ID: 'AKIA',
      AWS_SECRET_ACCESS_KEY: 'secret',
    };
    const found = providersFromEnv(env, none);
    assert.deepEqual(
      found.map((p) => [p.id, p.kind]),
      ['openai', 'anthropic', 'gemini', 'xai', 'groq', 'cerebras', 'deepseek', 'mistral', 'together', 'bedrock'].map(
        (kind) => [kind, kind],
      ),
    );
    assert.deepEqual(found[0]!.keys, ['o']);
    assert.deepEqual(found[0]!.timeouts, { connectMs: 5_000, firstByteMs: 60_000, totalMs: 600_000 });
  });

  test('comma-separated keys spread load; the first non-empty variable of a kind wins', () => {
    const [openai, gemini] = providersFromEnv(
      { OPENAI_API_KEY: ' sk-a, sk-b ,', GEMINI_API_KEY: ' ', GOOGLE_API_KEY: 'AIza-g' },
      none,
    );
    assert.deepEqual(openai!.keys, ['sk-a', 'sk-b']);
    assert.deepEqual(gemini!.keys, ['AIza-g']);
  });

  test('a kind the configuration file defines is left to the file', () => {
    const configured = parseConfig({ providers: [{ kind: 'openai', keys: ['file-key'] }] }, {}).providers;
    assert.deepEqual(
      providersFromEnv({ OPENAI_API_KEY: 'env-key', GROQ_API_KEY: 'gsk' }, configured).map((p) => p.kind),
      ['groq'],
    );
  });

  test('bedrock: one two-part credential (plus session token) and the region, us-east-1 by default', () => {
    assert.deepEqual(providersFromEnv({ AWS_ACCESS_KEY_ID: 'AKIA' }, none), [], 'the secret is required');
    const [plain] = providersFromEnv({ AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 's' }, none);
    assert.deepEqual(plain!.keys, [{ key: 'AKIA', secretAccessKey: 's' }]);
    assert.deepEqual(plain!.options, { region: 'us-east-1' });
    const [full] = providersFromEnv(
      {
        AWS_ACCESS_KEY_ID: 'AKIA',
        AWS_SECRET_ACCESS_KEY: 's',
        AWS_SESSION_TOKEN: 'tok',
        AWS_DEFAULT_REGION: 'eu-west-1',
      },
      none,
    );
    assert.deepEqual(full!.keys, [{ key: 'AKIA', secretAccessKey: 's', sessionToken: 'tok' }]);
    assert.deepEqual(full!.options, { region: 'eu-west-1' });
    const [both] = providersFromEnv(
      { AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 's', AWS_REGION: 'ap-south-1', AWS_DEFAULT_REGION: 'x' },
      none,
    );
    assert.deepEqual(both!.options, { region: 'ap-south-1' });
  });

  test('kinds without variables (local servers, Azure, OpenRouter) are never switched on from the environment', () => {
    assert.deepEqual(providersFromEnv({ OLLAMA_API_KEY: 'x', AZURE_API_KEY: 'y', OPENROUTER_API_KEY: 'z' }, none), []);
  });
});
