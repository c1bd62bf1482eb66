import { anthropic } from './anthropic.ts';
import { azure } from './azure.ts';
import { bedrock } from './bedrock.ts';
import { cerebras } from './cerebras.ts';
import { deepseek } from './deepseek.ts';
import { demo } from './demo.ts';
import type { ProviderDescriptor } from './descriptor.ts';
import { gemini } from './gemini.ts';
import { groq } from './groq.ts';
import { llamacpp } from './llamacpp.ts';
import { mistral } from './mistral.ts';
import { ollama } from './ollama.ts';
import { openai } from './openai.ts';
import { openAICompatible } from './openai-compatible.ts';
import { openrouter } from './openrouter.ts';
import { qwen } from './qwen.ts';
import { replicate } from './replicate.ts';
import { together } from './together.ts';
import { vllm } from './vllm.ts';
import { xai } from './xai.ts';

/**
 * Every provider kind, once. The order is the order providers switched on by environment variables join the
 * catalog (config/env-providers.ts). A new kind is a descriptor file (descriptor.ts) and a line here.
 */
export const PROVIDER_DESCRIPTORS = [
  openai,
  azure,
  anthropic,
  gemini,
  xai,
  groq,
  cerebras,
  deepseek,
  mistral,
  together,
  qwen,
  openrouter,
  ollama,
  vllm,
  llamacpp,
  openAICompatible,
  bedrock,
  replicate,
  demo,
] as const;

export type ProviderKind = (typeof PROVIDER_DESCRIPTORS)[number]['id'];

/** The kinds, for the configuration schema's enum. */
export const PROVIDER_KINDS: readonly ProviderKind[] = PROVIDER_DESCRIPTORS.map((descriptor) => descriptor.id);

const byKind = new Map<string, ProviderDescriptor<ProviderKind>>(PROVIDER_DESCRIPTORS.map((d) => [d.id, d]));

export function descriptorOf(kind: ProviderKind): ProviderDescriptor<ProviderKind> {
  // Every ProviderKind has a descriptor: the type is derived from this list.
  return byKind.get(kind)!;
}
