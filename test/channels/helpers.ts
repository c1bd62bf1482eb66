import { generateMasterKey } from '../../src/channels/master-key.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { TEST_API_KEY } from '../helpers/gateway.ts';
import { type AdminClient, adminClient, startTenancyGateway } from '../tenancy/helpers.ts';

export const MASTER_KEY = generateMasterKey();

/** A gateway with an admin account, no demo provider and a master key; `env` adds to or replaces it. */
export async function startChannelGateway(
  input: ConfigInput = {},
  env: NodeJS.ProcessEnv = { MODRO_MASTER_KEY: MASTER_KEY },
): Promise<{ gw: TestGateway; admin: AdminClient }> {
  const gw = await startTenancyGateway({ demo: { enabled: false }, routing: { maxAttempts: 3 }, ...input }, env);
  return { gw, admin: await adminClient(gw) };
}

/** A channel body for the mock OpenAI server, with one priced model. */
export function mockChannel(id: string, baseUrl: string, keys: string[], extra: Record<string, unknown> = {}) {
  return {
    id,
    kind: 'openai',
    baseUrl,
    models: [{ name: 'gpt-4o-mini', price: { input: 1, output: 2 }, qualityRank: 70, contextWindow: 128_000 }],
    credentials: keys.map((key, i) => ({ key, label: `key ${i + 1}` })),
    ...extra,
  };
}

export function chatBody(model: string, stream = false) {
  return { model, stream, messages: [{ role: 'user', content: 'hello there' }] };
}

export async function chatTo(gw: TestGateway, model: string, stream = false): Promise<Response> {
  return gw.post('/v1/chat/completions', chatBody(model, stream), { authorization: `Bearer ${TEST_API_KEY}` });
}

/** The bearer keys the mock received, in order. */
export function keysSeen(requests: Array<{ path: string; headers: Record<string, unknown> }>): string[] {
  return requests
    .filter((r) => r.path.includes('/chat/completions'))
    .map((r) => String(r.headers['authorization'] ?? '').replace(/^Bearer /, ''));
}
