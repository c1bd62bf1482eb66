import type { KnownModel } from '../../billing/catalog-types.ts';
import type { OpenAIQuirks } from '../openai-compatible/quirks.ts';

/**
 * Everything Modro knows about one provider kind, in one place: which adapter speaks its wire protocol, where
 * it lives, which environment variables switch it on, how a caller's own key for it is recognised, how it
 * differs from OpenAI (the OpenAI-compatible family) and which models it serves. The config schema's `kind`
 * enum, the adapter registry, providers from the environment, bring-your-own-key detection and the catalog all
 * read the one list in kinds/index.ts, so adding a kind is one descriptor file and one line there.
 */

/** The adapters, one per wire protocol (src/providers/<wire>/). */
export type Wire = 'openai-compatible' | 'anthropic' | 'gemini' | 'bedrock' | 'demo' | 'replicate';

interface DescriptorFields<K extends string> {
  /** The provider's `kind` in the configuration. */
  readonly id: K;
  /**
   * The base URL when the configuration gives none; '' when there is no default (an Azure resource, any other
   * compatible server: `baseUrl` must be set). Bedrock's holds `{region}`, filled with the signing region.
   */
  readonly defaultBaseUrl: string;
  /** Environment variables that switch this kind on when the configuration file does not define it. */
  readonly env?: EnvSetup;
  /** Present when a caller may bring their own key for this kind (one bearer-style secret, used as is). */
  readonly byok?: ByokSetup;
  /** A server on the operator's machine: it serves without a key, and its models cost nothing unless priced. */
  readonly local?: boolean;
  /**
   * Serves media models only (run as executions): configuring it alone leaves the demo provider's chat models in
   * place (`demo.enabled: auto`), since it serves no chat.
   */
  readonly mediaOnly?: boolean;
  /** The price library's provider id (@pydantic/genai-prices, billing/prices.ts), when it prices this kind. */
  readonly priceProvider?: string;
  /** Models served when the configuration lists none (or adds them with `includeKnownModels`). */
  readonly models: readonly KnownModel[];
}

export interface EnvSetup {
  /** Key variables; the first non-empty one wins, and comma-separated keys spread load (`OPENAI_API_KEY=sk-a,sk-b`). */
  readonly keys: readonly string[];
  /**
   * Two-part credentials (Bedrock): the variable holding the rest of the key, required with it; the key
   * variable is then one key, taken whole. `sessionToken` names an optional third part.
   */
  readonly secretAccessKey?: string;
  readonly sessionToken?: string;
  /** Provider options read from variables: option → the variables tried in order, then a fallback value. */
  readonly options?: Readonly<Record<string, { readonly vars: readonly string[]; readonly fallback: string }>>;
}

export interface ByokSetup {
  /**
   * The key's published prefixes (the longest match wins across kinds). Empty when its keys look like no one's
   * in particular: the caller then names the provider with `X-Modro-Provider` (tenancy/byok-detect.ts).
   */
  readonly prefixes: readonly string[];
}

export type ProviderDescriptor<K extends string = string> =
  | (DescriptorFields<K> & { readonly wire: 'openai-compatible'; readonly quirks: OpenAIQuirks })
  | (DescriptorFields<K> & { readonly wire: Exclude<Wire, 'openai-compatible'> });

/** Declares a descriptor, keeping its id a literal type so that the kind type is derived from the list. */
export function describeKind<const K extends string>(descriptor: ProviderDescriptor<K>): ProviderDescriptor<K> {
  return descriptor;
}
