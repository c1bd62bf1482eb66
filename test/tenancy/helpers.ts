import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfigInput } from '../../src/config/schema.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';

/** Shared by the tenancy and dashboard tests: a gateway with a known admin, and small HTTP helpers. */
export const ADMIN_USER = 'root';
export const ADMIN_PASSWORD = 'test-admin-password-123';

export async function startTenancyGateway(
  input: ConfigInput = {},
  env: NodeJS.ProcessEnv = {},
  options: Parameters<typeof startGateway>[2] = {},
): Promise<TestGateway> {
  return startGateway(
    {
      demo: { enabled: true },
      ...input,
      tenancy: {
        ...input.tenancy,
        admin: { username: ADMIN_USER, password: 'env:TEST_ADMIN_PASSWORD', ...input.tenancy?.admin },
      },
    },
    { TEST_ADMIN_PASSWORD: ADMIN_PASSWORD, ...env },
    options,
  );
}

export const CHAT = { model: 'fast', messages: [{ role: 'user', content: 'hello' }] };

/** POST /v1/chat/completions with a given bearer token. */
export async function chat(
  gw: TestGateway,
  token: string,
  body: unknown = CHAT,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** Drains a response and returns the headers that matter here. */
export async function callInfo(res: Response) {
  const body = await res.text();
  return {
    status: res.status,
    model: res.headers.get('x-model-router-model'),
    provider: res.headers.get('x-model-router-provider'),
    link: res.headers.get('x-client-dashboard-url'),
    body,
  };
}

export interface AdminClient {
  csrf: string;
  cookie: string;
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  json<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
}

/** Signs in through the admin JSON API. */
export async function adminClient(gw: TestGateway): Promise<AdminClient> {
  const res = await fetch(`${gw.url}/admin/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: ADMIN_USER, password: ADMIN_PASSWORD }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  const cookie = cookieFrom(res, 'modro_admin');
  const request = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}${path}`, {
      method,
      headers: {
        cookie,
        'x-csrf-token': csrfToken,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  return {
    csrf: csrfToken,
    cookie,
    request,
    async json(method, path, body) {
      const r = await request(method, path, body);
      const text = await r.text();
      assert.ok(r.status < 300, `${method} ${path} → ${r.status} ${text}`);
      return JSON.parse(text);
    },
  };
}

/** A new managed key of a tenant, through the admin API (the only answer that holds the key). */
export async function createKey(
  admin: AdminClient,
  tenantId: string,
  fields: Record<string, unknown> = {},
): Promise<{ id: string; key: string }> {
  return admin.json<{ id: string; key: string }>('POST', '/admin/api/keys', { tenantId, ...fields });
}

/** A tenant made through the admin API, and one managed key of it. */
export async function createTenantWithKey(
  admin: AdminClient,
  tenant: { id: string; name?: string },
): Promise<{ id: string; key: string }> {
  await admin.json('POST', '/admin/api/tenants', tenant);
  return createKey(admin, tenant.id);
}

/** Signs in through the admin login form, as a browser does; returns the admin cookie. */
export async function adminFormLogin(gw: TestGateway): Promise<string> {
  const res = await postForm(gw, '/admin/login', '', { username: ADMIN_USER, password: ADMIN_PASSWORD });
  await res.text();
  assert.equal(res.status, 303, 'signed in');
  return cookieFrom(res, 'modro_admin');
}

/** One call with the key, then the dashboard link of its answer opened: the client session cookie. */
export async function clientSession(gw: TestGateway, key: string): Promise<string> {
  const call = await callInfo(await chat(gw, key));
  assert.ok(call.link, `no dashboard link on the answer (${call.status})`);
  return (await openLink(call.link)).cookie;
}

export interface DashboardGateway {
  gw: TestGateway;
  /** Signed in through the admin JSON API. */
  admin: AdminClient;
  /** A managed key of tenant acme ("Acme Inc."). */
  key: string;
  /** A client session of acme, opened from the link of one call made with the key. */
  cookie: string;
}

/** Where the dashboard tests start: a gateway with tenant acme, its key, an admin and a client session. */
export async function startDashboardGateway(input: ConfigInput = {}): Promise<DashboardGateway> {
  const gw = await startTenancyGateway(input);
  try {
    const admin = await adminClient(gw);
    const { key } = await createTenantWithKey(admin, { id: 'acme', name: 'Acme Inc.' });
    return { gw, admin, key, cookie: await clientSession(gw, key) };
  } catch (err) {
    await gw.close();
    throw err;
  }
}

/** `name=value` of a Set-Cookie header, for sending back. */
export function cookieFrom(res: Response, name: string): string {
  const line = res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  assert.ok(line, `no ${name} cookie in ${JSON.stringify(res.headers.getSetCookie())}`);
  return line.split(';')[0]!;
}

/** Opens a dashboard link like a browser: returns the session cookie (asserting the redirect). */
export async function openLink(link: string): Promise<{ cookie: string; setCookie: string; location: string | null }> {
  const res = await fetch(link, { redirect: 'manual' });
  await res.text();
  assert.equal(res.status, 303, `opening the link answered ${res.status}`);
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('modro_client=')) ?? '';
  return { cookie: setCookie.split(';')[0]!, setCookie, location: res.headers.get('location') };
}

/** A page with the client session cookie; returns status and HTML. */
export async function getPage(
  gw: TestGateway,
  path: string,
  cookie: string,
): Promise<{ status: number; html: string; res: Response }> {
  const res = await fetch(`${gw.url}${path}`, { headers: { cookie }, redirect: 'manual' });
  return { status: res.status, html: await res.text(), res };
}

/** A form POST like a browser sends it (same origin). */
export async function postForm(
  gw: TestGateway,
  path: string,
  cookie: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${gw.url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      cookie,
      'content-type': 'application/x-www-form-urlencoded',
      origin: gw.url,
      ...headers,
    },
    body: new URLSearchParams(fields).toString(),
  });
}

export function csrfOf(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  assert.ok(match, 'no CSRF field on the page');
  return match[1]!;
}

/** Waits (bounded) for a condition a background task makes true; never asserts on time itself. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what = 'condition', timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`${what} not reached within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Every file under `dir` whose bytes contain `needle`. */
export function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const bytes = Buffer.from(needle);
  const walk = (path: string) => {
    for (const name of readdirSync(path)) {
      const full = join(path, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (readFileSync(full).includes(bytes)) hits.push(full);
    }
  };
  walk(dir);
  return hits;
}
