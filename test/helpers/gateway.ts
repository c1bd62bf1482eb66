import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { parseConfig } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { createRuntime, type Runtime, type RuntimeOptions } from '../../src/server/runtime.ts';
import { MOCK_API_KEY } from '../mocks/openai-compatible.ts';

/**
 * Starts a real gateway on 127.0.0.1 (port 0) with a temp SQLite file, collecting its JSON logs, and an
 * OpenAI SDK client pointed at it.
 */
export const TEST_API_KEY = 'mdr-test-key-0123456789';

export interface TestGateway {
  url: string;
  baseURL: string;
  runtime: Runtime;
  client: OpenAI;
  logs: string[];
  dataDir: string;
  /** Raw HTTP to the gateway with the test key. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export async function startGateway(
  input: ConfigInput = {},
  env: NodeJS.ProcessEnv = {},
  options: Pick<RuntimeOptions, 'adapterFor' | 'executions'> = {},
): Promise<TestGateway> {
  const dataDir = mkdtempSync(join(tmpdir(), 'modro-test-'));
  const raw = {
    ...input,
    server: { port: 0, ...input.server },
    storage: input.storage ?? { kind: 'sqlite', path: join(dataDir, 'modro.db') },
    auth: input.auth ?? { keys: [{ id: 'test', key: TEST_API_KEY }] },
    usage: { flushIntervalMs: 50, ...input.usage },
    logging: { level: 'info', ...input.logging },
  } as ConfigInput;
  const config = parseConfig(raw, env);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const runtime = await createRuntime({ config, env, logDestination: sink, ...options });
  const url = await runtime.listen();
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: TEST_API_KEY, maxRetries: 0, timeout: 30_000 });
  return {
    url,
    baseURL: `${url}/v1`,
    runtime,
    client,
    logs,
    dataDir,
    post(path, body, headers = {}) {
      return fetch(`${url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    },
    async close() {
      await runtime.shutdown();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

type ProviderInput = NonNullable<ConfigInput['providers']>[number];

/** A provider entry for the config, pointing at a mock OpenAI-compatible server. */
export function mockProvider(
  id: string,
  baseUrl: string,
  models: Array<{
    name: string;
    qualityRank: number;
    price?: { input: number; output: number };
    tiers?: Array<'utility' | 'fast' | 'deep'>;
    mode?: 'chat' | 'embedding';
    upstreamName?: string;
  }>,
  extra: Partial<ProviderInput> = {},
): ProviderInput {
  return {
    id,
    kind: 'openai',
    baseUrl,
    keys: [MOCK_API_KEY],
    timeouts: { connectMs: 2_000, firstByteMs: 3_000, totalMs: 10_000 },
    models: models.map((m) => ({
      contextWindow: 128_000,
      maxOutputTokens: 16_384,
      capabilities: { tools: true, vision: true, jsonSchema: true, streaming: true },
      price: { input: 1, output: 2 },
      ...m,
    })),
    ...extra,
  };
}

/** Reads an SSE response body into its `data:` payloads. */
export async function readSSEData(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .map((block) => block.trim())
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice(6));
}
