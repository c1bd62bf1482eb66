import type { ProviderConfig } from './schema.ts';

/**
 * Providers switched on by the usual environment variables, so `OPENAI_API_KEY=... ./modro start` just
 * works. A kind the configuration file already defines is left to the file. Several keys may be given
 * comma-separated (`OPENAI_API_KEY=sk-a,sk-b`) to spread load.
 */
const SIMPLE: Array<{ kind: ProviderConfig['kind']; vars: string[] }> = [
  { kind: 'openai', vars: ['OPENAI_API_KEY'] },
  { kind: 'anthropic', vars: ['ANTHROPIC_API_KEY'] },
  { kind: 'gemini', vars: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'] },
  { kind: 'xai', vars: ['XAI_API_KEY'] },
  { kind: 'groq', vars: ['GROQ_API_KEY'] },
  { kind: 'cerebras', vars: ['CEREBRAS_API_KEY'] },
  { kind: 'deepseek', vars: ['DEEPSEEK_API_KEY'] },
  { kind: 'mistral', vars: ['MISTRAL_API_KEY'] },
  { kind: 'together', vars: ['TOGETHER_API_KEY'] },
];

function timeouts(): ProviderConfig['timeouts'] {
  return { connectMs: 5_000, firstByteMs: 60_000, totalMs: 600_000 };
}

export function providersFromEnv(env: NodeJS.ProcessEnv, configured: ProviderConfig[]): ProviderConfig[] {
  const kinds = new Set(configured.map((p) => p.kind));
  const found: ProviderConfig[] = [];
  for (const { kind, vars } of SIMPLE) {
    if (kinds.has(kind)) continue;
    const value = vars.map((name) => env[name]).find((v) => v && v.trim() !== '');
    if (!value) continue;
    const keys = value
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean);
    found.push({ id: kind, kind, keys, options: {}, timeouts: timeouts() });
  }
  if (!kinds.has('bedrock') && env['AWS_ACCESS_KEY_ID'] && env['AWS_SECRET_ACCESS_KEY']) {
    const key: Exclude<ProviderConfig['keys'][number], string> = {
      key: env['AWS_ACCESS_KEY_ID'],
      secretAccessKey: env['AWS_SECRET_ACCESS_KEY'],
    };
    if (env['AWS_SESSION_TOKEN']) key.sessionToken = env['AWS_SESSION_TOKEN'];
    found.push({
      id: 'bedrock',
      kind: 'bedrock',
      keys: [key],
      options: { region: env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'] ?? 'us-east-1' },
      timeouts: timeouts(),
    });
  }
  return found;
}
