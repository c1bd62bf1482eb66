import { createHash } from 'node:crypto';
import type { BedrockModelFamily } from './bedrock-model-family.ts';

/**
 * Tool call ids from the conversation history, made acceptable to Bedrock. The history may come from another
 * provider, so ids are rewritten the same way wherever they appear (toolUse and its toolResult stay paired):
 * Converse wants `[a-zA-Z0-9_-]{1,64}`, and Mistral models on Bedrock want exactly 9 letters or digits.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolUseBlock.html
 */

const VALID = /^[a-zA-Z0-9_-]{1,64}$/;
const MISTRAL_VALID = /^[a-zA-Z0-9]{9}$/;

function digest(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

export function toBedrockToolUseId(id: string, family: BedrockModelFamily): string {
  if (family === 'mistral') {
    if (MISTRAL_VALID.test(id)) return id;
    return digest(id).replace(/[-_]/g, '').slice(0, 9).padEnd(9, '0');
  }
  if (VALID.test(id)) return id;
  // A stable hash suffix keeps two different ids from colliding after cleaning.
  const cleaned = id.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 48);
  return `${cleaned}_${digest(id).slice(0, 12)}`;
}
