import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KeysInFlight } from '../../src/pipeline/in-flight.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import type { AdminClient } from '../tenancy/helpers.ts';
import { chatTo, mockChannel, startChannelGateway } from './helpers.ts';

/**
 * Per-credential in-flight counts (docs/channels.md, "Credentials"): a stream holds its credential until its
 * last frame; a draining credential is revoked only once idle on this gateway (409 before, unless forced).
 */

const KEY = 'sk-channel-flight-0123456789abcdefghijklmno';

interface Listed {
  credentials: Array<{ id: string; state: string; inFlight: number }>;
}

describe('in-flight counts per credential', () => {
  let upstream: MockOpenAI;
  let gw: TestGateway;
  let admin: AdminClient;
  const credential = async () => (await admin.json<Listed>('GET', '/admin/api/channels/fl')).credentials[0]!;

  before(async () => {
    upstream = await startMockOpenAI({ apiKeys: [KEY] });
    ({ gw, admin } = await startChannelGateway());
    const res = await admin.request('POST', '/admin/api/channels', mockChannel('fl', upstream.url, [KEY]));
    assert.equal(res.status, 201, await res.text());
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('a completion and a failed attempt leave nothing in flight', async () => {
    const done = await chatTo(gw, 'fl/gpt-4o-mini');
    assert.equal(done.status, 200);
    await done.text();
    assert.equal((await credential()).inFlight, 0);
    upstream.faults.push({ kind: 'status', status: 400 });
    const failed = await chatTo(gw, 'fl/gpt-4o-mini');
    assert.equal(failed.status, 400);
    await failed.text();
    assert.equal((await credential()).inFlight, 0);
  });

  it('an open stream counts until its end; revoking the drained key waits for it (409), then works', async () => {
    upstream.options.chunkDelayMs = 150;
    const res = await chatTo(gw, 'fl/gpt-4o-mini', true);
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    await reader.read(); // the first frame is here: the stream is open
    const busy = await credential();
    assert.equal(busy.inFlight, 1);
    await admin.json('POST', `/admin/api/channels/fl/credentials/${busy.id}/drain`);
    const refused = await admin.request('POST', `/admin/api/channels/fl/credentials/${busy.id}/revoke`, {});
    assert.equal(refused.status, 409);
    const body = (await refused.json()) as { error: { message: string } };
    assert.match(body.error.message, /1 request\(s\) in flight/);
    // The page shows it too.
    const page = await fetch(`${gw.url}/admin/channels`, { headers: { cookie: admin.cookie } });
    assert.match(await page.text(), /<th>In flight<\/th>/);

    while (!(await reader.read()).done) {}
    upstream.options.chunkDelayMs = 0;
    assert.equal((await credential()).inFlight, 0);
    const revoked = await admin.json<{ state: string }>('POST', `/admin/api/channels/fl/credentials/${busy.id}/revoke`);
    assert.equal(revoked.state, 'revoked');
  });

  it('force revokes a busy credential (its request still finishes: it holds its own copy of the key)', async () => {
    const add = await admin.request('POST', '/admin/api/channels/fl/credentials', { key: KEY });
    assert.equal(add.status, 201);
    const { id } = (await add.json()) as { id: string };
    upstream.options.chunkDelayMs = 100;
    const res = await chatTo(gw, 'fl/gpt-4o-mini', true);
    const reader = res.body!.getReader();
    await reader.read();
    const forced = await admin.request('POST', `/admin/api/channels/fl/credentials/${id}/revoke`, { force: true });
    assert.equal(forced.status, 200, await forced.text());
    let text = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
    assert.match(text, /\[DONE\]/);
    upstream.options.chunkDelayMs = 0;
  });
});

describe('KeysInFlight', () => {
  it('counts begins, and a release twice ends one use only', () => {
    const k = new KeysInFlight();
    const a = k.begin('x#1');
    const b = k.begin('x#1');
    assert.equal(k.count('x#1'), 2);
    a();
    a();
    assert.equal(k.count('x#1'), 1);
    b();
    assert.equal(k.count('x#1'), 0);
  });
});
