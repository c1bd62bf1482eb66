import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { TestGateway } from '../helpers/gateway.ts';
import { callInfo, chat, startTenancyGateway, waitFor } from './helpers.ts';

const run = promisify(execFile);
const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

/**
 * `modro tenants|keys|admin` in a separate process, against the database of a running gateway: the gateway
 * applies each change through its settings-version poll, without a restart (cache invalidation across
 * processes, the same path another node would take).
 */
describe('CLI management against a running gateway', () => {
  let gw: TestGateway;
  let configPath: string;

  before(async () => {
    gw = await startTenancyGateway({ tenancy: { cache: { pollMs: 50 } } });
    configPath = join(gw.dataDir, 'cli.yaml');
    writeFileSync(
      configPath,
      `storage:\n  kind: sqlite\n  path: ${join(gw.dataDir, 'modro.db')}\ndemo:\n  enabled: true\n`,
    );
  });
  after(() => gw.close());

  async function cli(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
    const child = run(process.execPath, [MAIN, ...args, '--config', configPath], { env: { PATH: process.env.PATH } });
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    try {
      const { stdout, stderr } = await child;
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  test('create a tenant and a key; the running gateway accepts the key without a restart', async () => {
    const created = await cli(['tenants', 'create', 'acme', '--name', 'Acme Inc.']);
    assert.equal(created.code, 0, created.stderr);
    const key = await cli(['keys', 'create', '--tenant', 'acme', '--name', 'ci', '--json']);
    assert.equal(key.code, 0, key.stderr);
    const { key: secret, id } = JSON.parse(key.stdout) as { key: string; id: string };
    assert.match(secret, /^mdro_/);
    await waitFor(async () => (await callInfo(await chat(gw, secret))).status === 200, 'the new key to be accepted');
    const listed = await cli(['keys', 'list', '--tenant', 'acme', '--json']);
    assert.ok(listed.stdout.includes(id));
    assert.ok(!listed.stdout.includes(secret), 'keys list never prints a key');
  });

  test('a preset change from the CLI routes the gateway’s next requests by it', async () => {
    const { stdout } = await cli(['keys', 'create', '--tenant', 'acme', '--json']);
    const { key } = JSON.parse(stdout) as { key: string };
    await waitFor(async () => (await callInfo(await chat(gw, key))).status === 200, 'the key');
    assert.equal((await callInfo(await chat(gw, key))).model, 'demo/demo-fast');
    const set = await cli(['tenants', 'set', 'acme', '--preset', 'cheapest']);
    assert.equal(set.code, 0, set.stderr);
    await waitFor(async () => (await callInfo(await chat(gw, key))).model === 'demo/demo-utility', 'cheapest routing');
    const bad = await cli(['tenants', 'set', 'acme', '--fast', 'no/such-model']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not a model this tenant may use/);
  });

  test('channel groups of a tenant from the CLI: create --groups, set --groups, set --groups ""', async () => {
    const created = await cli(['tenants', 'create', 'grouped', '--groups', 'pro,eu', '--json']);
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual((JSON.parse(created.stdout) as { groups: string[] }).groups, ['pro', 'eu']);
    const set = await cli(['tenants', 'set', 'grouped', '--groups', 'gold', '--json']);
    assert.deepEqual((JSON.parse(set.stdout) as { groups: string[] }).groups, ['gold']);
    const cleared = await cli(['tenants', 'set', 'grouped', '--groups', '', '--json']);
    assert.deepEqual((JSON.parse(cleared.stdout) as { groups: string[] }).groups, []);
    const bad = await cli(['tenants', 'set', 'grouped', '--groups', 'Not OK']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /groups must be a list of group names/);
  });

  test('a key revoked from the CLI is refused by the running gateway', async () => {
    const { stdout } = await cli(['keys', 'create', '--tenant', 'acme', '--json']);
    const { key, id } = JSON.parse(stdout) as { key: string; id: string };
    await waitFor(async () => (await callInfo(await chat(gw, key))).status === 200, 'the key');
    const revoked = await cli(['keys', 'revoke', id]);
    assert.equal(revoked.code, 0, revoked.stderr);
    await waitFor(async () => (await callInfo(await chat(gw, key))).status === 401, 'the revocation');
  });

  test('admin create-user: the new admin can sign in; passwords come from stdin or are generated', async () => {
    const made = await cli(['admin', 'create-user', 'bob', '--password-stdin'], 'bobs-long-password\n');
    assert.equal(made.code, 0, made.stderr);
    assert.ok(!made.stdout.includes('bobs-long-password'));
    const login = await fetch(`${gw.url}/admin/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bob', password: 'bobs-long-password' }),
    });
    assert.equal(login.status, 200);
    const generated = await cli(['admin', 'create-user', 'carol']);
    const password = /Password \(shown once\): (\S+)/.exec(generated.stdout)?.[1];
    assert.ok(password && password.length >= 20);
    const again = await cli(['admin', 'create-user', 'carol']);
    assert.equal(again.code, 1, 'an existing user is not overwritten by create-user');
  });

  test('usage errors exit 2 with help', async () => {
    const res = await cli(['keys']);
    assert.equal(res.code, 2);
    assert.match(res.stdout + res.stderr, /keys create --tenant/);
  });
});
