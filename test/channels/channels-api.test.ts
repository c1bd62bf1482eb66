import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mockProvider, type TestGateway } from '../helpers/gateway.ts';
import { leakedSecrets } from '../helpers/secrets.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { type AdminClient, waitFor } from '../tenancy/helpers.ts';
import { runCli } from './cli.ts';
import { chatTo, keysSeen, MASTER_KEY, mockChannel, startChannelGateway } from './helpers.ts';

const KEY_A = 'sk-channel-aaaa-0123456789abcdefghijklmnop';
const KEY_B = 'sk-channel-bbbb-0123456789abcdefghijklmnop';
const BAD_KEY = 'sk-channel-dead-0123456789abcdefghijklmnop';

describe('channels through the admin API and real HTTP', () => {
  let upstream: MockOpenAI;
  let gw: TestGateway;
  let admin: AdminClient;

  before(async () => {
    upstream = await startMockOpenAI({ apiKeys: [KEY_A, KEY_B] });
    ({ gw, admin } = await startChannelGateway());
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('a channel created through the admin API serves requests at once, and no answer holds its key', async () => {
    const before = await chatTo(gw, 'acme/gpt-4o-mini');
    assert.equal(before.status, 404, await before.text());
    const res = await admin.request('POST', '/admin/api/channels', mockChannel('acme', upstream.url, [KEY_A]));
    const text = await res.text();
    assert.equal(res.status, 201, text);
    const created = JSON.parse(text) as { credentials: Array<{ last4: string; state: string; id: string }> };
    assert.equal(created.credentials.length, 1);
    assert.equal(created.credentials[0]!.last4, KEY_A.slice(-4));
    assert.equal(created.credentials[0]!.state, 'active');
    assert.deepEqual(leakedSecrets(text, [KEY_A]), []);

    upstream.reset();
    const ok = await chatTo(gw, 'acme/gpt-4o-mini');
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal(ok.headers.get('x-model-router-provider'), 'acme');
    await ok.text();
    assert.deepEqual(keysSeen(upstream.requests), [KEY_A]);

    const list = await admin.request('GET', '/admin/api/channels');
    const listed = await list.text();
    assert.deepEqual(leakedSecrets(listed, [KEY_A]), []);
    const body = JSON.parse(listed) as { data: Array<{ id: string }>; configured: unknown[] };
    assert.deepEqual(
      body.data.map((c) => c.id),
      ['acme'],
    );
    assert.ok(Array.isArray(body.configured));
  });

  it('the test call uses each active credential against the provider', async () => {
    const res = await admin.json<{ ok: boolean; results: Array<{ ok: boolean }> }>(
      'POST',
      '/admin/api/channels/acme/test',
    );
    assert.equal(res.ok, true);
    assert.equal(res.results.length, 1);
  });

  it('a credential added while a stream is open: the stream completes on the old key, new requests use the new one', async () => {
    upstream.options.chunkDelayMs = 40;
    upstream.reset();
    const stream = await chatTo(gw, 'acme/gpt-4o-mini', true);
    assert.equal(stream.status, 200);
    const reading = stream.text();
    const channel = await admin.json<{ credentials: Array<{ id: string }> }>('GET', '/admin/api/channels/acme');
    const oldId = channel.credentials[0]!.id;
    const added = await admin.request('POST', '/admin/api/channels/acme/credentials', {
      key: KEY_B,
      label: 'new',
      rotateBy: '2030-01-01',
    });
    const addedText = await added.text();
    assert.equal(added.status, 201, addedText);
    assert.deepEqual(leakedSecrets(addedText, [KEY_B]), []);
    await admin.json('POST', `/admin/api/channels/acme/credentials/${oldId}/drain`);
    const text = await reading;
    assert.ok(text.includes('[DONE]'), 'the stream that was open ran to its end');
    upstream.options.chunkDelayMs = 0;
    for (let i = 0; i < 3; i++) {
      const res = await chatTo(gw, 'acme/gpt-4o-mini');
      assert.equal(res.status, 200);
      await res.text();
    }
    assert.deepEqual(keysSeen(upstream.requests), [KEY_A, KEY_B, KEY_B, KEY_B]);
    const revoked = await admin.json<{ state: string }>('POST', `/admin/api/channels/acme/credentials/${oldId}/revoke`);
    assert.equal(revoked.state, 'revoked');
    const again = await admin.request('POST', `/admin/api/channels/acme/credentials/${oldId}/activate`);
    assert.equal(again.status, 409, 'a revoked credential stays revoked');
  });

  it('a credential the provider rejects (401) is taken out; the channel goes on with its others', async () => {
    const res = await admin.request('POST', '/admin/api/channels', mockChannel('two', upstream.url, [BAD_KEY, KEY_A]));
    assert.equal(res.status, 201, await res.text());
    upstream.reset();
    for (let i = 0; i < 4; i++) {
      const r = await chatTo(gw, 'two/gpt-4o-mini');
      assert.equal(r.status, 200, await r.clone().text());
      await r.text();
    }
    const seen = keysSeen(upstream.requests);
    assert.equal(seen.filter((k) => k === BAD_KEY).length, 1, 'the rejected key was tried once, then left out');
    assert.equal(seen.filter((k) => k === KEY_A).length, 4);
    const states = gw.runtime.health
      .snapshot(gw.runtime.catalog.providers.values())
      .filter((s) => s.provider === 'two');
    assert.deepEqual(states.map((s) => s.state).sort(), ['closed', 'rejected']);
    const test = await admin.json<{ ok: boolean; results: Array<{ ok: boolean; upstreamStatus: number | null }> }>(
      'POST',
      '/admin/api/channels/two/test',
    );
    assert.equal(test.ok, false);
    assert.deepEqual(test.results.map((r) => `${r.ok} ${r.upstreamStatus ?? ''}`).sort(), ['false 401', 'true ']);
    assert.ok(gw.logs.length > 0);
    assert.deepEqual(leakedSecrets(gw.logs.join('\n'), [BAD_KEY, KEY_A, KEY_B]), [], 'no key in the logs');
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(
      metrics,
      /key="two#cred_[^"]+",state="rejected"} 1/,
      'circuits are labelled by channel and credential id',
    );
    assert.deepEqual(leakedSecrets(metrics, [BAD_KEY, KEY_A, KEY_B]), [], 'no key in a metric label');
  });

  it('a disabled channel is not routed to; enabled again it is', async () => {
    await admin.json('PATCH', '/admin/api/channels/two', { enabled: false });
    const off = await chatTo(gw, 'two/gpt-4o-mini');
    assert.equal(off.status, 404, await off.text());
    await admin.json('PATCH', '/admin/api/channels/two', { enabled: true });
    const on = await chatTo(gw, 'two/gpt-4o-mini');
    assert.equal(on.status, 200, await on.text());
    const del = await admin.request('DELETE', '/admin/api/channels/two');
    assert.equal(del.status, 204);
    const gone = await chatTo(gw, 'two/gpt-4o-mini');
    assert.equal(gone.status, 404, await gone.text());
  });

  it('disabling a channel while one of its streams is open: the stream completes, new requests are not routed', async () => {
    upstream.options.chunkDelayMs = 40;
    const stream = await chatTo(gw, 'acme/gpt-4o-mini', true);
    assert.equal(stream.status, 200);
    const reading = stream.text();
    await admin.json('PATCH', '/admin/api/channels/acme', { enabled: false });
    const refused = await chatTo(gw, 'acme/gpt-4o-mini');
    assert.equal(refused.status, 404, 'the next request no longer sees the channel');
    await refused.text();
    assert.ok((await reading).includes('[DONE]'), 'the open stream ran to its end');
    upstream.options.chunkDelayMs = 0;
    await admin.json('PATCH', '/admin/api/channels/acme', { enabled: true });
  });

  it('validation errors say what is wrong, in the API envelope', async () => {
    const cases: Array<[unknown, number, RegExp]> = [
      [{ id: 'Bad Id', kind: 'openai' }, 400, /^id: /],
      [{ id: 'x1', kind: 'nope' }, 400, /^kind: /],
      [{ id: 'x2', kind: 'openai-compatible' }, 400, /^baseUrl: .*no default base URL/],
      [{ id: 'x3', kind: 'openai', baseUrl: 'not a url' }, 400, /^baseUrl: /],
      [{ id: 'x4', kind: 'openai', credentials: [{ key: '' }] }, 400, /^credentials\.0\.key: /],
      [{ id: 'x5', kind: 'openai', priority: 'high' }, 400, /^priority: /],
      [{ id: 'acme', kind: 'openai' }, 409, /already exists/],
      [
        { id: 'x6', kind: 'openai', models: [{ name: 'm', price: { input: -1, output: 1 } }] },
        400,
        /^models\.0\.price\.input: /,
      ],
    ];
    for (const [body, status, message] of cases) {
      const res = await admin.request('POST', '/admin/api/channels', body);
      const json = (await res.json()) as { error: { message: string; code: string } };
      assert.equal(res.status, status, JSON.stringify(json));
      assert.match(json.error.message, message);
      assert.ok(!JSON.stringify(json).includes('    at '), 'no stack trace');
    }
    const missing = await admin.request('PATCH', '/admin/api/channels/nope', { enabled: false });
    assert.equal(missing.status, 404);
  });
});

describe('channels without a master key', () => {
  it('refuses to store a credential, and says how to configure one', async () => {
    const { gw, admin } = await startChannelGateway({}, {});
    try {
      const res = await admin.request(
        'POST',
        '/admin/api/channels',
        mockChannel('c', 'http://127.0.0.1:9/v1', ['sk-x-0123456789abcdef']),
      );
      const json = (await res.json()) as { error: { message: string } };
      assert.equal(res.status, 409);
      assert.match(json.error.message, /MODRO_MASTER_KEY/);
    } finally {
      await gw.close();
    }
  });
});

describe('channels beside the configuration file, and changes from another process', () => {
  it('file providers are listed read-only; a CLI change reaches the running gateway without a restart', async () => {
    const upstream = await startMockOpenAI({ apiKeys: [KEY_A] });
    const { gw, admin } = await startChannelGateway({
      providers: [mockProvider('filed', upstream.url, [{ name: 'gpt-4o-mini', qualityRank: 70 }], { keys: [KEY_A] })],
    });
    try {
      const taken = await admin.request('POST', '/admin/api/channels', mockChannel('filed', upstream.url, [KEY_B]));
      assert.equal(taken.status, 409, 'a channel may not take a file provider id');
      await taken.text();
      await admin.json('POST', '/admin/api/channels', mockChannel('side', upstream.url, [KEY_A], { priority: 5 }));
      const listed = await admin.json<{ configured: Array<{ id: string; readOnly: boolean; keys: number }> }>(
        'GET',
        '/admin/api/channels',
      );
      assert.deepEqual(listed.configured, [
        {
          id: 'filed',
          kind: 'openai',
          baseUrl: upstream.url,
          keys: 1,
          models: ['gpt-4o-mini'],
          source: 'configuration',
          readOnly: true,
        },
      ]);
      // Priority: a bare model name goes to the higher-priority channel before the file's provider.
      const bare = await chatTo(gw, 'gpt-4o-mini');
      assert.equal(bare.headers.get('x-model-router-provider'), 'side');
      await bare.text();

      const configFile = join(gw.dataDir, 'cli.yaml');
      writeFileSync(
        configFile,
        `storage:\n  kind: sqlite\n  path: ${join(gw.dataDir, 'modro.db')}\ndemo:\n  enabled: false\n`,
      );
      const disabled = await cli(['channels', 'disable', 'side', '--config', configFile]);
      assert.equal(disabled.code, 0, disabled.output);
      await waitFor(async () => {
        const res = await chatTo(gw, 'side/gpt-4o-mini');
        await res.text();
        return res.status === 404;
      }, 'the gateway applies the CLI change');

      const added = await cli(
        [
          'channels',
          'add-key',
          'side',
          '--label',
          'due',
          '--rotate-by',
          new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10),
          '--config',
          configFile,
        ],
        `${KEY_B}\n`,
      );
      assert.equal(added.code, 0, added.output);
      assert.match(added.output, new RegExp(`added cred_\\S+ \\(…${KEY_B.slice(-4)}\\) to side`));
      const listing = await cli(['channels', 'list', '--config', configFile]);
      const text = listing.output;
      assert.match(text, /side\topenai\tdisabled\tpriority 5/);
      assert.match(text, /WARNING: rotate by \d{4}-\d{2}-\d{2} \(in [23] day\(s\)\)/);
      assert.deepEqual(leakedSecrets(text + added.output, [KEY_A, KEY_B]), []);

      // Weight: equal-priority channels share a bare model name in proportion (9:1 here).
      await admin.json(
        'POST',
        '/admin/api/channels',
        mockChannel('heavy', upstream.url, [KEY_A], { priority: 7, weight: 9 }),
      );
      await admin.json(
        'POST',
        '/admin/api/channels',
        mockChannel('light', upstream.url, [KEY_A], { priority: 7, weight: 1 }),
      );
      const served: Record<string, number> = {};
      for (let i = 0; i < 40; i++) {
        const res = await chatTo(gw, 'gpt-4o-mini');
        assert.equal(res.status, 200);
        const provider = res.headers.get('x-model-router-provider')!;
        served[provider] = (served[provider] ?? 0) + 1;
        await res.text();
      }
      assert.deepEqual(
        Object.keys(served).sort(),
        ['heavy', 'light'].filter((p) => served[p]),
      );
      assert.ok((served['heavy'] ?? 0) >= 28, `heavy served ${served['heavy']} of 40`);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

const cli = (args: string[], stdin?: string) => runCli(args, { MODRO_MASTER_KEY: MASTER_KEY }, stdin);
