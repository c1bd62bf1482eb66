import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

/**
 * The gateway's configuration for the bench, as a user would write it: a real SQLite file, one API key,
 * the mock as an `openai` provider with four models so `fast` is resolved by real routing (two models in
 * the tier, ranked by the balanced preset), and everything else at its defaults: usage records batched
 * (500 rows or 1 s), Prometheus metrics, circuit breakers, logging at `info`.
 */
export const BENCH_GATEWAY_KEY = 'mdr-bench-0123456789abcdefghij';

export function writeGatewayConfig(dir: string, mockOrigin: string, mockKey: string): string {
  const config = {
    server: { host: '127.0.0.1', port: 0 },
    storage: { kind: 'sqlite', path: join(dir, 'modro.db') },
    auth: { keys: [{ id: 'bench', key: BENCH_GATEWAY_KEY }] },
    logging: { level: 'info' },
    providers: [
      {
        id: 'mock',
        kind: 'openai',
        baseUrl: `${mockOrigin}/v1`,
        keys: [mockKey],
        models: [
          model('gpt-4.1-nano', 40, 0.1, 0.4),
          model('gpt-4o-mini', 68, 0.15, 0.6),
          model('gpt-4.1-mini', 72, 0.4, 1.6),
          model('gpt-4o', 85, 2.5, 10),
          { ...model('text-embedding-3-small', 50, 0.02, 0), mode: 'embedding' },
        ],
      },
    ],
  };
  const path = join(dir, 'modro.yaml');
  writeFileSync(path, stringify(config));
  return path;
}

function model(name: string, qualityRank: number, input: number, output: number) {
  return {
    name,
    qualityRank,
    price: { input, output },
    contextWindow: 128_000,
    maxOutputTokens: 16_384,
    capabilities: { tools: true, vision: true, jsonSchema: true, streaming: true },
  };
}
