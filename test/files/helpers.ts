import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { POSTGRES_TEST_URL } from '../helpers/databases.ts';
import type { TestGateway } from '../helpers/gateway.ts';

/** Small real files: a 1×1 PNG, the start of a JPEG (JFIF), a WAV header, and an HTML page. */
export const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
export const JPEG = Buffer.concat([
  Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]),
  Buffer.from('JFIF\0'),
  Buffer.alloc(120, 7),
]);
export const WAV = Buffer.concat([
  Buffer.from('RIFF'),
  Buffer.from([0x24, 0, 0, 0]),
  Buffer.from('WAVEfmt '),
  Buffer.alloc(100, 1),
]);
export const HTML = Buffer.from('<!doctype html><html><body><script>alert(1)</script></body></html>');

export interface Part {
  name: string;
  value?: string;
  filename?: string;
  type?: string;
  bytes?: Uint8Array;
}

/** POST /v1/files with a multipart body built from parts, with a key. */
export function upload(gw: TestGateway, key: string, parts: Part[], headers: Record<string, string> = {}) {
  const form = new FormData();
  for (const p of parts) {
    if (p.bytes) form.append(p.name, new Blob([p.bytes], { type: p.type ?? '' }), p.filename ?? 'blob');
    else form.append(p.name, p.value ?? '');
  }
  return fetch(`${gw.url}/v1/files`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, ...headers },
    body: form,
  });
}

export function get(gw: TestGateway, key: string, path: string, method = 'GET') {
  return fetch(`${gw.url}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
}

/** Every file under a folder (relative paths), recursively. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, prefix: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${prefix}${e.name}/`);
      else out.push(`${prefix}${e.name}`);
    }
  };
  walk(dir, '');
  return out;
}

export async function postgresProblem(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.end();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

export async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, code: body.error.code, message: body.error.message };
}
