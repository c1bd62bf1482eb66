import assert from 'node:assert/strict';
import { it } from 'node:test';
import { mockProvider } from '../helpers/gateway.ts';
import { startMockOpenAI } from '../mocks/openai-compatible.ts';
import { chat, createTenantWithKey } from '../tenancy/helpers.ts';
import { chatBody, mockChannel, startChannelGateway } from './helpers.ts';

const KEY = 'sk-channel-byok-0123456789abcdefghijklmno';

/**
 * With bring-your-own-key on and a file provider listed without keys, managed callers are kept to the providers
 * the operator holds keys for. A channel added at runtime is such a provider: its callers reach it at once.
 */
it('a channel added at runtime is open to managed keys when a keyless BYOK provider keeps them to operator providers', async () => {
  const upstream = await startMockOpenAI({ apiKeys: [KEY] });
  const { gw, admin } = await startChannelGateway({
    tenancy: { byok: { enabled: true } },
    providers: [mockProvider('openai', upstream.url, [{ name: 'gpt-4o-mini', qualityRank: 70 }], { keys: [] })],
  });
  try {
    const { key } = await createTenantWithKey(admin, { id: 'acme' });
    const before = await chat(gw, key, chatBody('gpt-4o-mini'));
    assert.notEqual(before.status, 200, 'no operator provider serves it yet');
    await before.text();
    await admin.json('POST', '/admin/api/channels', mockChannel('chan', upstream.url, [KEY]));
    const after = await chat(gw, key, chatBody('gpt-4o-mini'));
    assert.equal(after.status, 200, await after.clone().text());
    assert.equal(after.headers.get('x-model-router-provider'), 'chan');
    await after.text();
  } finally {
    await gw.close();
    await upstream.close();
  }
});
