import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type GatewayProcess, spawnGateway } from '../helpers/gateway-process.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * Bring-your-own-key stays off by default (docs/tenancy.md, "Bring-your-own-key: the default"); `./modro start`
 * says so in one line with the one setting that turns it on, and that setting works.
 */
describe('modro start: the bring-your-own-key line', () => {
  const started: GatewayProcess[] = [];
  let mock: MockOpenAI | undefined;
  after(async () => {
    for (const gw of started) {
      await gw.stop();
      rmSync(gw.dataDir, { recursive: true, force: true });
    }
    await mock?.close();
  });

  const waitForLine = async (gw: GatewayProcess, pattern: RegExp) => {
    const deadline = Date.now() + 10_000;
    while (!pattern.test(gw.output()) && Date.now() < deadline) await sleep(20);
    return gw
      .output()
      .split('\n')
      .find((line) => pattern.test(line));
  };

  it('off: one line saying how to turn it on, and an sk- key gets 401', async () => {
    const gw = await spawnGateway({ auth: { keys: [{ id: 'k', key: 'mdr-start-test-key-0123' }] } });
    started.push(gw);
    const line = await waitForLine(gw, /Bring-your-own-key/);
    assert.ok(line, gw.output());
    assert.match(line, /off/);
    assert.match(line, /MODRO__TENANCY__BYOK__ENABLED=true/);
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MOCK_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'fast', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 401);
  });

  it('the printed setting turns it on: the caller’s own OpenAI key is the bearer token', async () => {
    mock = await startMockOpenAI();
    process.env['MODRO__TENANCY__BYOK__ENABLED'] = 'true';
    let gw: GatewayProcess;
    try {
      gw = await spawnGateway({
        auth: { keys: [{ id: 'k', key: 'mdr-start-test-key-0123' }] },
        providers: [{ kind: 'openai', baseUrl: mock.url }],
      });
    } finally {
      delete process.env['MODRO__TENANCY__BYOK__ENABLED'];
    }
    started.push(gw);
    const line = await waitForLine(gw, /Bring-your-own-key/);
    assert.match(line ?? '', /: on/);
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MOCK_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get('x-model-router-provider'), 'openai');
    const sent = mock.requests.filter((r) => r.path.includes('/chat/completions')).at(-1)!;
    assert.equal(sent.headers.authorization, `Bearer ${MOCK_API_KEY}`);
  });
});
