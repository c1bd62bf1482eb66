import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { mockProvider, type TestGateway } from '../helpers/gateway.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { callInfo, chat, openLink, startTenancyGateway, waitFor } from '../tenancy/helpers.ts';

/**
 * Hostile-test finding: `GET /v1/models` and `POST /v1/messages/count_tokens` never reach the provider, yet ran
 * the success step that provisions a bring-your-own-key tenant: 2,000 random `sk-…` keys created 2,002 tenants,
 * each with a dashboard link. A tenant is created only after a provider accepted the key on a real call.
 */
const REAL_KEY = 'sk-byok-real-0123456789abcdefghijklmnopqrstu';
const SECOND_KEY = 'sk-byok-second-0123456789abcdefghijklmnopqr';

describe('made-up bring-your-own keys create nothing', () => {
  let upstream: MockOpenAI;
  let gw: TestGateway;

  before(async () => {
    upstream = await startMockOpenAI({ apiKeys: [MOCK_API_KEY, REAL_KEY, SECOND_KEY] });
    gw = await startTenancyGateway({
      demo: { enabled: false },
      tenancy: { byok: { enabled: true } },
      providers: [mockProvider('openai', upstream.url, [{ name: 'gpt-4o-mini', qualityRank: 70 }])],
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const byokTenants = async () => (await gw.runtime.tenancy.repo.listTenants({ kind: 'byok' })).length;
  const fakeKey = () => `sk-proj-${randomBytes(24).toString('hex')}`;

  test('200 random keys on /v1/models and count_tokens: the catalog and counts, no tenant, no link', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const key = fakeKey();
        const res =
          i % 2 === 0
            ? await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })
            : await fetch(`${gw.url}/v1/messages/count_tokens`, {
                method: 'POST',
                headers: { 'x-api-key': key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
                body: JSON.stringify({ model: 'fast', messages: [{ role: 'user', content: 'hello there' }] }),
              });
        const body = (await res.json()) as { data?: unknown[]; input_tokens?: number };
        return { status: res.status, link: res.headers.get('x-client-dashboard-url'), body };
      }),
    );
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.equal(r.link, null, 'no dashboard link for a key no provider has accepted');
      assert.ok((r.body.data?.length ?? 0) > 0 || (r.body.input_tokens ?? 0) > 0, 'the answer itself is served');
    }
    // Provisioning is asynchronous: give any (wrongly) started write time to land before counting.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await byokTenants(), 0);
  });

  test('a key the provider rejects creates nothing; one it accepts creates its tenant and gets a link', async () => {
    const rejected = await callInfo(await chat(gw, fakeKey()));
    assert.equal(rejected.status, 401);
    assert.equal(rejected.link, null);
    const models = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${REAL_KEY}` } });
    assert.equal(models.headers.get('x-client-dashboard-url'), null, 'not yet verified: no link');
    await models.text();
    const accepted = await callInfo(await chat(gw, REAL_KEY));
    assert.equal(accepted.status, 200, accepted.body);
    assert.ok(accepted.link, 'a link after the first accepted call');
    await waitFor(async () => (await byokTenants()) === 1, 'the tenant of the accepted key');
    await waitFor(async () => {
      const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${REAL_KEY}` } });
      await res.text();
      return res.headers.get('x-client-dashboard-url') !== null;
    }, 'a link on the model list once the tenant exists');
  });

  test('the link in a new key’s first answer opens even while its tenant is still being written', async () => {
    const repo = gw.runtime.tenancy.repo;
    const write = repo.ensureByokTenant.bind(repo);
    // A slow database: the row lands well after the answer (and its link) reached the client.
    repo.ensureByokTenant = async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      return write(...args);
    };
    try {
      const first = await callInfo(await chat(gw, SECOND_KEY));
      assert.equal(first.status, 200, first.body);
      assert.ok(first.link);
      await openLink(first.link);
    } finally {
      repo.ensureByokTenant = write;
    }
  });
});
