import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mockProvider, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { adminClient, CHAT, callInfo, chat, filesContaining, startTenancyGateway, waitFor } from './helpers.ts';

/**
 * Bring-your-own-key: the caller's own provider key is the credential. The tenant is named by an HMAC of it;
 * the key reaches only its provider, for that request, and is never stored or logged. An invalid key gets the
 * provider's 401 as authentication_failed and creates nothing.
 */
const OWN_KEY = 'sk-byok-test-0123456789abcdefghijklmnopqrstuv';
const WRONG_KEY = 'sk-byok-wrong-0123456789abcdefghijklmnopqrst';
/** A key without any known prefix (like Mistral's): usable only with the X-Modro-Provider header. */
const PLAIN_KEY = 'plainkey0123456789abcdefghijklmn';

describe('bring-your-own-key', () => {
  let openai: MockOpenAI;
  let cheapco: MockOpenAI;
  let gw: TestGateway;

  before(async () => {
    openai = await startMockOpenAI({ apiKeys: [MOCK_API_KEY, OWN_KEY, PLAIN_KEY] });
    cheapco = await startMockOpenAI();
    gw = await startTenancyGateway({
      demo: { enabled: false },
      tenancy: { byok: { enabled: true } },
      providers: [
        mockProvider('openai', openai.url, [{ name: 'gpt-4o-mini', qualityRank: 70, price: { input: 1, output: 2 } }]),
        // Same kind, cheaper: the operator's own callers prefer it; BYOK callers must never reach it.
        mockProvider('cheapco', cheapco.url, [
          { name: 'gpt-4o-mini', qualityRank: 70, price: { input: 0.1, output: 0.2 } },
        ]),
      ],
    });
  });
  after(async () => {
    await gw.close();
    await openai.close();
    await cheapco.close();
  });

  const byokTenants = () => gw.runtime.tenancy.repo.listTenants({ kind: 'byok' });

  test('a provider key is used for its provider only, and its tenant appears after the first success', async () => {
    openai.reset();
    cheapco.reset();
    assert.deepEqual(await byokTenants(), []);
    const call = await callInfo(await chat(gw, OWN_KEY));
    assert.equal(call.status, 200, call.body);
    assert.equal(call.provider, 'openai');
    assert.equal(openai.requests.length, 1);
    assert.equal(
      openai.requests[0]!.headers['authorization'],
      `Bearer ${OWN_KEY}`,
      'the caller’s own key went upstream',
    );
    assert.equal(cheapco.requests.length, 0, 'the cheaper provider of another key holder is never used');
    const link = call.link ?? '';
    const tenantId = /link=(byok_[0-9a-f]{32})\./.exec(link)?.[1];
    assert.ok(tenantId, `dashboard link for a byok tenant: ${link}`);
    await waitFor(async () => (await byokTenants()).length === 1, 'the BYOK tenant row');
    const [tenant] = await byokTenants();
    assert.equal(tenant?.id, tenantId);
    assert.equal(tenant?.byokProvider, 'openai');
    assert.equal(tenant?.preset, null, 'created with the default preset');
    // The same key lands in the same tenant.
    const again = await callInfo(await chat(gw, OWN_KEY));
    assert.ok(again.link?.includes(`link=${tenantId}.`));
    assert.equal((await byokTenants()).length, 1);
  });

  test('the key is never stored or logged: not in any database file, spill file, or log line', async () => {
    assert.equal((await callInfo(await chat(gw, OWN_KEY))).status, 200);
    assert.equal((await callInfo(await chat(gw, WRONG_KEY))).status, 401);
    await gw.runtime.usage.flush();
    for (const secret of [OWN_KEY, WRONG_KEY, OWN_KEY.slice(8, 30), WRONG_KEY.slice(8, 30)]) {
      assert.deepEqual(filesContaining(gw.dataDir, secret), [], `found ${secret.slice(0, 12)}… in the data folder`);
      assert.ok(!gw.logs.join('').includes(secret), 'found the key in the logs');
    }
    const row = await gw.runtime.store.db
      .selectFrom('tenant')
      .selectAll()
      .where('byok_provider', '=', 'openai')
      .executeTakeFirst();
    assert.match(row?.key_hmac ?? '', /^[0-9a-f]{64}$/, 'only the HMAC is stored');
  });

  test('an invalid key gets authentication_failed from the provider’s 401 and creates no tenant', async () => {
    const before = (await byokTenants()).length;
    openai.reset();
    cheapco.reset();
    const call = await callInfo(await chat(gw, WRONG_KEY));
    assert.equal(call.status, 401);
    assert.equal(JSON.parse(call.body).error.code, 'authentication_failed');
    assert.equal(call.link, null);
    assert.ok(openai.requests.length >= 1);
    assert.ok(
      openai.requests.every((r) => r.headers['authorization'] === `Bearer ${WRONG_KEY}`),
      'never the operator key',
    );
    assert.equal(cheapco.requests.length, 0);
    await gw.runtime.tenancy.directory.reload();
    assert.equal((await byokTenants()).length, before);
  });

  test('routing for a BYOK tenant uses only models its key’s provider serves', async () => {
    const named = await callInfo(await chat(gw, OWN_KEY, { ...CHAT, model: 'cheapco/gpt-4o-mini' }));
    assert.equal(named.status, 404, 'another provider’s model is not available to this key');
    const operator = await callInfo(await chat(gw, TEST_API_KEY));
    assert.equal(operator.provider, 'cheapco', 'the operator’s own callers still get the cheapest provider');
    const models = (await (
      await fetch(`${gw.baseURL}/models`, { headers: { authorization: `Bearer ${OWN_KEY}` } })
    ).json()) as {
      data: Array<{ id: string }>;
    };
    assert.ok(models.data.some((m) => m.id === 'openai/gpt-4o-mini'));
    assert.ok(!models.data.some((m) => m.id.startsWith('cheapco/')));
  });

  test('a BYOK tenant’s own settings apply to its next request', async () => {
    const [tenant] = await byokTenants();
    const admin = await adminClient(gw);
    await admin.json('PATCH', `/admin/api/tenants/${tenant!.id}`, { preset: 'quality' });
    const res = await chat(gw, OWN_KEY, { ...CHAT, model: 'fast' });
    assert.equal(res.headers.get('x-model-router-preset'), 'quality');
    await res.text();
    const managed = await admin.request('POST', '/admin/api/keys', { tenantId: tenant!.id });
    assert.equal(managed.status, 400, 'no managed keys for a BYOK tenant');
  });

  test('keys of providers that are not configured, or of no known provider, are refused', async () => {
    const anthropic = await callInfo(
      await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'x-api-key': 'sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345', 'content-type': 'application/json' },
        body: JSON.stringify(CHAT),
      }),
    );
    assert.equal(anthropic.status, 401);
    assert.match(JSON.parse(anthropic.body).error.message, /anthropic/);
    assert.equal((await callInfo(await chat(gw, PLAIN_KEY))).status, 401, 'no prefix, no header: not a provider key');
    // The explicit header picks the provider for keys without a recognisable prefix.
    const explicit = await callInfo(await chat(gw, PLAIN_KEY, CHAT, { 'x-modro-provider': 'openai' }));
    assert.equal(explicit.status, 200, explicit.body);
    assert.equal(explicit.provider, 'openai');
  });
});

describe('bring-your-own-key switched off (the default)', () => {
  test('a provider key is just an invalid gateway key, and nothing goes upstream', async () => {
    const mock = await startMockOpenAI({ apiKeys: [MOCK_API_KEY, OWN_KEY] });
    const gw = await startTenancyGateway({
      demo: { enabled: false },
      providers: [mockProvider('openai', mock.url, [{ name: 'gpt-4o-mini', qualityRank: 70 }])],
    });
    try {
      const call = await callInfo(await chat(gw, OWN_KEY));
      assert.equal(call.status, 401);
      assert.match(JSON.parse(call.body).error.message, /Invalid API key/);
      assert.equal(mock.requests.length, 0);
    } finally {
      await gw.close();
      await mock.close();
    }
  });
});

describe('a provider configured without keys serves bring-your-own-key callers only', () => {
  test('the operator’s callers never reach it; BYOK callers use it with their own key', async () => {
    const mock = await startMockOpenAI({ apiKeys: [OWN_KEY] });
    const gw = await startTenancyGateway({
      demo: { enabled: true },
      tenancy: { byok: { enabled: true } },
      providers: [{ ...mockProvider('openai', mock.url, [{ name: 'gpt-4o-mini', qualityRank: 70 }]), keys: [] }],
    });
    try {
      const operator = await callInfo(await chat(gw, TEST_API_KEY));
      assert.equal(operator.status, 200);
      assert.equal(operator.provider, 'demo');
      const named = await callInfo(await chat(gw, TEST_API_KEY, { ...CHAT, model: 'openai/gpt-4o-mini' }));
      assert.equal(named.status, 404);
      const own = await callInfo(await chat(gw, OWN_KEY));
      assert.equal(own.status, 200, own.body);
      assert.equal(own.provider, 'openai');
      assert.equal(mock.requests.length, 1);
    } finally {
      await gw.close();
      await mock.close();
    }
  });
});
