import { clipped } from '../../core/validation.ts';
import { isCustomTool } from './parse-anthropic-request.ts';

type Json = Record<string, unknown>;
const NAMED_BLOCK_TYPES = 5;

/**
 * What in an Anthropic request body only Anthropic can serve: the IR leaves it out when the request is
 * translated for another provider (server tools, MCP servers, containers, context management, PDF and
 * file documents, Files API images, search results, tool results with such blocks). The gateway can use
 * this to keep such a request on Anthropic candidates, or to refuse it, instead of silently dropping parts.
 * Empty means the request translates losslessly.
 * @see https://platform.claude.com/docs/en/api/messages
 */
export function anthropicOnlyFeatures(raw: Record<string, unknown>): string[] {
  const features = new Set<string>();
  const otherBlocks = new Set<string>();
  const tools = Array.isArray(raw['tools']) ? (raw['tools'] as Json[]) : [];
  if (tools.some((tool) => tool && !isCustomTool(tool))) features.add('server tools');
  for (const field of ['mcp_servers', 'container', 'context_management'] as const) {
    if (raw[field] != null) features.add(field);
  }
  const messages = Array.isArray(raw['messages']) ? (raw['messages'] as Json[]) : [];
  for (const message of messages) {
    if (!Array.isArray(message?.['content'])) continue;
    for (const block of message['content'] as Json[]) {
      const type = block?.['type'];
      if (type === 'image' && (block['source'] as Json | undefined)?.['type'] === 'file') features.add('file images');
      else if (type === 'document') {
        const source = (block['source'] as Json | undefined)?.['type'];
        if (source !== 'text' && source !== 'content') features.add('documents');
      } else if (type === 'tool_result' && Array.isArray(block['content'])) {
        if ((block['content'] as Json[]).some((inner) => inner?.['type'] !== 'text' && inner?.['type'] !== 'image')) {
          features.add('rich tool results');
        }
      } else if (
        typeof type === 'string' &&
        !['text', 'image', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking'].includes(type)
      ) {
        otherBlocks.add(type);
      }
    }
  }
  return [...features, ...namedBlocks(otherBlocks)];
}

/** The client's own block types, quoted in an error message: a few, each clipped. */
function namedBlocks(types: ReadonlySet<string>): string[] {
  const named = [...types].slice(0, NAMED_BLOCK_TYPES).map((type) => `${clipped(type)} blocks`);
  if (types.size > NAMED_BLOCK_TYPES) named.push(`${types.size - NAMED_BLOCK_TYPES} more block types`);
  return named;
}
