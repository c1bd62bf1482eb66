import assert from 'node:assert/strict';
import { it } from 'node:test';
import { leakedSecrets } from '../helpers/secrets.ts';
import { startMockOpenAI } from '../mocks/openai-compatible.ts';
import { adminFormLogin, csrfOf, getPage, postForm } from '../tenancy/helpers.ts';
import { chatTo, startChannelGateway } from './helpers.ts';

const KEY = 'sk-channel-page-0123456789abcdefghijklmnop';
const KEY_2 = 'sk-channel-page-two-0123456789abcdefghijk';

it('the admin channels page creates a channel, adds and drains a credential, tests and disables it; keys never rendered', async () => {
  const upstream = await startMockOpenAI({ apiKeys: [KEY, KEY_2] });
  const { gw } = await startChannelGateway();
  try {
    const cookie = await adminFormLogin(gw);
    const first = await getPage(gw, '/admin/channels', cookie);
    assert.equal(first.status, 200);
    const csrf = csrfOf(first.html);
    const pages: string[] = [];
    const submit = async (path: string, fields: Record<string, string> = {}) => {
      const res = await postForm(gw, path, cookie, { _csrf: csrf, ...fields });
      const html = await res.text();
      pages.push(html);
      return { status: res.status, html };
    };
    const created = await submit('/admin/channels', { id: 'paged', kind: 'openai', baseUrl: upstream.url, key: KEY });
    assert.equal(created.status, 200, created.html.slice(0, 500));
    assert.match(created.html, /Channel paged created/);
    assert.ok(created.html.includes(`…${KEY.slice(-4)}`));
    // The kind's known models, priced from the library: gpt-4o-mini is one of OpenAI's.
    const routed = await chatTo(gw, 'paged/gpt-4o-mini');
    assert.equal(routed.status, 200, await routed.clone().text());
    await routed.text();

    const added = await submit('/admin/channels/paged/credentials', {
      key: KEY_2,
      label: 'second',
      rotateBy: '2020-01-01',
    });
    assert.match(added.html, /rotate-by date passed/);
    const oldId = /credentials\/(cred_[A-Za-z0-9_-]+)\/drain/.exec(created.html)?.[1];
    assert.ok(oldId);
    const drained = await submit(`/admin/channels/paged/credentials/${oldId}/drain`);
    assert.match(drained.html, /is draining/);
    const tested = await submit('/admin/channels/paged/test');
    assert.match(tested.html, /every active credential answered/);
    const bad = await submit('/admin/channels', { id: 'paged', kind: 'openai', key: KEY });
    assert.equal(bad.status, 409);
    assert.match(bad.html, /already exists/);
    const grouped = await submit('/admin/channels', {
      id: 'grouped',
      kind: 'openai',
      baseUrl: upstream.url,
      groups: 'vip, gold',
    });
    assert.equal(grouped.status, 200, grouped.html.slice(0, 500));
    assert.match(grouped.html, /groups vip, gold/);
    assert.deepEqual((await gw.runtime.channels.ops.repo.getChannel('grouped'))?.groups, ['vip', 'gold']);
    const disabled = await submit('/admin/channels/paged/disable');
    assert.match(disabled.html, /Channel paged disabled/);
    const off = await chatTo(gw, 'paged/gpt-4o-mini');
    assert.equal(off.status, 404);
    await off.text();
    const refused = await postForm(gw, '/admin/channels/paged/enable', cookie, { _csrf: 'wrong' });
    assert.equal(refused.status, 403, 'a form without the session CSRF token is refused');
    await refused.text();
    assert.deepEqual(leakedSecrets(pages.join('\n'), [KEY, KEY_2]), [], 'no page shows a credential');
  } finally {
    await gw.close();
    await upstream.close();
  }
});

it('the edit form changes an existing channel (base URL, priority, weight, groups, models) without a restart', async () => {
  const upstream = await startMockOpenAI({ apiKeys: [KEY] });
  const { gw } = await startChannelGateway();
  try {
    const cookie = await adminFormLogin(gw);
    const csrf = csrfOf((await getPage(gw, '/admin/channels', cookie)).html);
    const submit = async (path: string, fields: Record<string, string> = {}) => {
      const res = await postForm(gw, path, cookie, { _csrf: csrf, ...fields });
      return { status: res.status, html: await res.text() };
    };
    const created = await submit('/admin/channels', {
      id: 'editable',
      kind: 'openai',
      baseUrl: 'http://127.0.0.1:9/v1',
      groups: 'vip',
      key: KEY,
    });
    assert.equal(created.status, 200, created.html.slice(0, 500));
    assert.match(created.html, /action="\/admin\/channels\/editable\/edit"/);
    const models = JSON.stringify([{ name: 'gpt-9-mini', price: { input: 0.1, output: 0.2 }, qualityRank: 70 }]);
    const saved = await submit('/admin/channels/editable/edit', {
      baseUrl: upstream.url,
      priority: '5',
      weight: '3',
      groups: '',
      models,
    });
    assert.equal(saved.status, 200, saved.html.slice(0, 500));
    assert.match(saved.html, /Channel editable saved/);
    const row = (await gw.runtime.channels.ops.repo.getChannel('editable'))!;
    assert.equal(row.baseUrl, upstream.url);
    assert.equal(row.priority, 5);
    assert.equal(row.weight, 3);
    assert.equal(row.groups, null);
    assert.deepEqual(
      (row.models as Array<{ name: string }>).map((m) => m.name),
      ['gpt-9-mini'],
    );
    // The form shows what is stored now.
    assert.match(saved.html, /name="priority" type="number"[^>]*value="5"/);
    assert.ok(saved.html.includes('gpt-9-mini'));
    // Applied at once: the new model routes (to the new base URL), for a caller in no group.
    const routed = await chatTo(gw, 'editable/gpt-9-mini');
    assert.equal(routed.status, 200, await routed.clone().text());
    await routed.text();

    const badJson = await submit('/admin/channels/editable/edit', { models: '[{' });
    assert.equal(badJson.status, 400);
    assert.match(badJson.html, /models: not valid JSON/);
    const badWeight = await submit('/admin/channels/editable/edit', { weight: '0', models });
    assert.equal(badWeight.status, 400);
    assert.match(badWeight.html, /weight/);
    assert.equal(
      (await gw.runtime.channels.ops.repo.getChannel('editable'))!.weight,
      3,
      'a refused edit changes nothing',
    );
  } finally {
    await gw.close();
    await upstream.close();
  }
});
