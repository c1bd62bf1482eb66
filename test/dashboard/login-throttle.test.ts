import assert from 'node:assert/strict';
import { after, before, describe, mock, test } from 'node:test';
import { Agent, request } from 'undici';
import { addressKey, LOGIN_LIMIT, LOGIN_WINDOW_MS, LoginThrottle } from '../../src/dashboard/admin/login-throttle.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { ADMIN_PASSWORD, ADMIN_USER, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * The admin login throttle: attempts are counted before the password hash, the page and the JSON API share
 * one budget, per address and per account, in bounded memory.
 */

type Via = 'page' | 'api';
const SECOND_ADMIN = 'ops';
const SECOND_PASSWORD = 'ops-password-456';

/** One sign-in attempt from a given loopback source address; returns status and Retry-After. */
async function login(gw: TestGateway, via: Via, username: string, password: string, dispatcher?: Agent) {
  const res = await request(`${gw.url}${via === 'page' ? '/admin/login' : '/admin/api/session'}`, {
    method: 'POST',
    headers:
      via === 'page'
        ? { 'content-type': 'application/x-www-form-urlencoded', origin: gw.url }
        : { 'content-type': 'application/json' },
    body:
      via === 'page' ? new URLSearchParams({ username, password }).toString() : JSON.stringify({ username, password }),
    ...(dispatcher ? { dispatcher } : {}),
  });
  await res.body.text();
  const retryAfter = res.headers['retry-after'];
  return { status: res.statusCode, retryAfter: typeof retryAfter === 'string' ? Number(retryAfter) : undefined };
}

/** A client whose connections leave from `address` (any of 127.0.0.0/8 reaches the gateway on 127.0.0.1). */
function from(address: string): Agent {
  return new Agent({ localAddress: address });
}

describe('admin login throttle over HTTP', () => {
  let gw: TestGateway;
  const agents: Agent[] = [];
  const agent = (address: string) => {
    const a = from(address);
    agents.push(a);
    return a;
  };

  before(async () => {
    gw = await startTenancyGateway();
    await gw.runtime.tenancy.admins.upsert(SECOND_ADMIN, SECOND_PASSWORD, { replace: false });
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await gw.close();
  });

  test('300 parallel attempts from one address: only the limit is evaluated, the rest get 429 with Retry-After', async () => {
    const a = agent('127.0.0.20');
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        login(gw, i % 2 === 0 ? 'page' : 'api', ADMIN_USER, `wrong-password-${i}`, a),
      ),
    );
    const evaluated = results.filter((r) => r.status === 401).length;
    const refused = results.filter((r) => r.status === 429);
    assert.equal(evaluated, LOGIN_LIMIT, `${evaluated} attempts reached the password check`);
    assert.equal(refused.length, 300 - LOGIN_LIMIT);
    for (const r of refused) {
      assert.ok(
        r.retryAfter !== undefined && r.retryAfter > 0 && r.retryAfter <= LOGIN_WINDOW_MS / 1000,
        `${r.retryAfter}`,
      );
    }
  });

  test('the login page and the JSON API share one budget', async () => {
    const a = agent('127.0.0.30');
    for (let i = 0; i < LOGIN_LIMIT; i++) {
      const r = await login(gw, i < LOGIN_LIMIT / 2 ? 'page' : 'api', 'shared-budget', `wrong-${i}`, a);
      assert.equal(r.status, 401);
    }
    assert.equal((await login(gw, 'page', 'shared-budget', 'wrong', a)).status, 429);
    assert.equal((await login(gw, 'api', 'shared-budget', 'wrong', a)).status, 429);
  });

  test('the per-account limit holds across addresses; other accounts from a fresh address are still checked', async () => {
    for (let i = 0; i < LOGIN_LIMIT; i++) {
      const r = await login(gw, 'api', SECOND_ADMIN, `wrong-${i}`, agent(`127.0.1.${i + 1}`));
      assert.equal(r.status, 401, `attempt ${i + 1} from its own address`);
    }
    const fresh = agent('127.0.2.1');
    const right = await login(gw, 'api', SECOND_ADMIN, SECOND_PASSWORD, fresh);
    assert.equal(right.status, 429, 'even the right password waits while the account is locked');
    assert.ok(right.retryAfter !== undefined && right.retryAfter > 0);
    assert.equal((await login(gw, 'page', 'someone-else', 'wrong', fresh)).status, 401);
  });

  test('after the window the right password signs in', async () => {
    const a = agent('127.0.3.1');
    for (let i = 0; i < LOGIN_LIMIT; i++) await login(gw, 'page', 'late-admin', `wrong-${i}`, a);
    assert.equal((await login(gw, 'api', ADMIN_USER, ADMIN_PASSWORD, a)).status, 429);
    mock.timers.enable({ apis: ['Date'], now: Date.now() + LOGIN_WINDOW_MS + 1_000 });
    try {
      assert.equal((await login(gw, 'api', ADMIN_USER, ADMIN_PASSWORD, a)).status, 200);
      assert.equal((await login(gw, 'page', ADMIN_USER, ADMIN_PASSWORD, a)).status, 303);
    } finally {
      mock.timers.reset();
    }
  });
});

describe('LoginThrottle', async () => {
  test('a window counts attempts from its first one; a success starts both counts over', async () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle({ now: () => now });
    for (let i = 0; i < LOGIN_LIMIT; i++) assert.equal((await throttle.reserve('10.0.0.1', 'root')).allowed, true);
    now += 60_000;
    const refused = await throttle.reserve('10.0.0.1', 'root');
    assert.deepEqual(refused, { allowed: false, retryAfterSeconds: (LOGIN_WINDOW_MS - 60_000) / 1000 });
    now += LOGIN_WINDOW_MS - 60_000;
    assert.equal((await throttle.reserve('10.0.0.1', 'root')).allowed, true, 'the window has ended');
    throttle.succeeded('10.0.0.1', 'root');
    assert.equal(throttle.size, 0);
  });

  test('memory stays bounded and rotating addresses and usernames never resets a count', async () => {
    let now = 0;
    const throttle = new LoginThrottle({ now: () => now });
    for (let i = 0; i < LOGIN_LIMIT; i++) await throttle.reserve(`10.1.0.${i}`, 'root');
    let allowed = 0;
    for (let i = 0; i < 30_000; i++) {
      now += 1;
      if ((await throttle.reserve(`10.2.${i >> 8}.${i & 255}`, `user${i}`)).allowed) allowed++;
    }
    assert.ok(throttle.size <= 20_000, `${throttle.size} keys held`);
    assert.ok(allowed < 30_000, 'a full map refuses new keys instead of evicting');
    const root = await throttle.reserve('10.3.0.1', 'root');
    assert.equal(root.allowed, false, 'root is still locked');
    // Names that cannot be usernames share one key, however many there are.
    const fresh = new LoginThrottle();
    for (let i = 0; i < 100; i++) await fresh.reserve('10.4.0.1', `${'x'.repeat(100)}${i}`);
    assert.equal(fresh.size, 2);
  });

  test('IPv6 addresses count by /64; IPv4-mapped addresses count as IPv4', async () => {
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('2001:DB8:0:0:ffff::2'), '2001:db8:0:0::/64');
    assert.equal(addressKey('2001:db8:0:1::1'), '2001:db8:0:1::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(addressKey('127.0.0.1'), '127.0.0.1');
    const throttle = new LoginThrottle();
    for (let i = 1; i <= LOGIN_LIMIT; i++) await throttle.reserve(`2001:db8::${i.toString(16)}`, `user${i}`);
    assert.equal((await throttle.reserve('2001:db8::ffff', 'another')).allowed, false);
    assert.equal((await throttle.reserve('2001:db8:0:1::1', 'another')).allowed, true);
  });
});
