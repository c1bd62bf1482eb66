import { GatewayError } from '../../core/errors.ts';
import type { CallContext, UpstreamTarget } from '../types.ts';
import { postAnthropicJSON } from './anthropic-http.ts';

/**
 * Anthropic's own token count for a Messages request body (`POST /v1/messages/count_tokens`): exact, free,
 * rate-limited separately. Only the fields the endpoint accepts are sent (it rejects generation settings
 * such as max_tokens or stream), with `model` replaced by the catalog's upstream name.
 * @see https://platform.claude.com/docs/en/api/messages-count-tokens
 */

const COUNTED_FIELDS = [
  'messages',
  'system',
  'tools',
  'tool_choice',
  'thinking',
  'output_config',
  'cache_control',
  'speed',
  'mcp_servers',
  'context_management',
] as const;

export async function countAnthropicTokens(
  body: Record<string, unknown>,
  target: UpstreamTarget,
  ctx: CallContext,
): Promise<number> {
  const counted: Record<string, unknown> = { model: target.model.upstreamName };
  for (const field of COUNTED_FIELDS) if (body[field] !== undefined) counted[field] = body[field];
  const { json } = await postAnthropicJSON(target, ctx, '/messages/count_tokens', counted);
  const tokens = json['input_tokens'];
  if (typeof tokens !== 'number') {
    throw new GatewayError(
      'provider_unavailable',
      `Upstream ${target.provider.id} returned a token count without input_tokens`,
    );
  }
  return tokens;
}
