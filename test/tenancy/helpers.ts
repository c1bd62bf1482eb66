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
