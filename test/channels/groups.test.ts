import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mockProvider, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { type AdminClient, callInfo, chat, createTenantWithKey, waitFor } from '../tenancy/helpers.ts';
import { mockChannel, startChannelGateway } from './helpers.ts';

const KEY_PRO = 'sk-channel-prop-0123456789abcdefghijklmnop';

/**
 * Channel groups: a channel (or a configured provider) restricted to groups serves only tenants in one of them.
 * `pro` is a cheaper channel for gpt-4o-mini than the configured provider `open`, so without groups every
 * request would go to it.
 */
describe('channel groups', () => {
  let upstream: MockOpenAI;
  let gw: TestGateway;
  let admin: AdminClient;
  let plain: string;
  let member: string;

  const ask = async (token: string, model: string) =>
    callInfo(await chat(gw, token, { model, messages: [{ role: 'user', content: 'hi' }] }));

  before(async () => {
    upstream = await startMockOpenAI({ apiKeys: [MOCK_API_KEY, KEY_PRO] });
    ({ gw, admin } = await startChannelGateway({
      providers: [
        mockProvider('open', upstream.url, [{ name: 'gpt-4o-mini', qualityRank: 70, price: { input: 5, output: 10 } }]),
        mockProvider('vip', upstream.url, [{ name: 'gpt-4o', qualityRank: 70, price: { input: 0.01, output: 0.01 } }], {
          groups: ['gold'],
        }),
      ],
    }));
    const res = await admin.request(
      'POST',
      '/admin/api/channels',
      mockChannel('pro', upstream.url, [KEY_PRO], {
        models: [{ name: 'gpt-4o-mini', price: { input: 0.1, output: 0.2 }, qualityRank: 70, contextWindow: 128_000 }],
        groups: ['pro', 'gold'],
      }),
    );
    const text = await res.text();
    assert.equal(res.status, 201, text);
    const view = JSON.parse(text) as { groups: string[] | null };
    assert.deepEqual(view.groups, ['pro', 'gold']);
    plain = (await createTenantWithKey(admin, { id: 'plain' })).key;
    await admin.json('POST', '/admin/api/tenants', { id: 'member', groups: ['pro'] });
    member = (await admin.json<{ key: string }>('POST', '/admin/api/keys', { tenantId: 'member' })).key;
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('a tenant outside the groups never routes to the channel; a member does', async () => {
    for (const token of [plain, TEST_API_KEY]) {
      for (const model of ['gpt-4o-mini', 'fast', 'fast:cheapest', 'auto:cheapest']) {
        const info = await ask(token, model);
        assert.equal(info.status, 200, info.body);
        assert.notEqual(info.provider, 'pro', `${model} must not reach the channel`);
        assert.notEqual(info.provider, 'vip');
      }
      assert.equal((await ask(token, 'pro/gpt-4o-mini')).status, 404);
      assert.equal((await ask(token, 'vip/gpt-4o')).status, 404, 'a configured provider with groups is closed too');
    }
    const info = await ask(member, 'gpt-4o-mini');
    assert.equal(info.status, 200, info.body);
    assert.equal(info.provider, 'pro');
    assert.equal((await ask(member, 'fast:cheapest')).provider, 'pro');
    // In group pro, not gold: the configured provider for gold stays closed.
    assert.equal((await ask(member, 'vip/gpt-4o')).status, 404);
    // GET /v1/models lists only what the caller may route to.
    const listed = async (token: string) => {
      const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${token}` } });
      return ((await res.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
    };
    assert.ok(!(await listed(plain)).some((id) => id.startsWith('pro/') || id.startsWith('vip/')));
    assert.ok((await listed(member)).includes('pro/gpt-4o-mini'));
    // The admin pages show both sides.
    const page = async (path: string) => {
      const res = await admin.request('GET', path);
      assert.equal(res.status, 200);
      return res.text();
    };
    assert.match(await page('/admin/channels'), /groups pro, gold/);
    assert.match(await page('/admin/tenants/member'), /name="groups" type="text" value="pro"/);
  });

  it('bad group names are refused; editing the channel or the tenant applies without restart', async () => {
    const bad = await admin.request('PATCH', '/admin/api/channels/pro', { groups: ['Not OK'] });
    assert.equal(bad.status, 400, await bad.text());
    const badTenant = await admin.request('PATCH', '/admin/api/tenants/plain', { groups: [''] });
    assert.equal(badTenant.status, 400, await badTenant.text());

    await admin.json('PATCH', '/admin/api/tenants/plain', { groups: ['gold'] });
    await waitFor(async () => (await ask(plain, 'vip/gpt-4o')).status === 200, 'tenant plain joins gold');
    assert.equal((await ask(plain, 'gpt-4o-mini')).provider, 'pro');

    await admin.json('PATCH', '/admin/api/channels/pro', { groups: null });
    await waitFor(async () => (await ask(TEST_API_KEY, 'gpt-4o-mini')).provider === 'pro', 'channel open to all');
  });
});
