import { PROVIDER_DESCRIPTORS, type ProviderKind } from '../providers/kinds/index.ts';
import type { ProviderSpec } from '../providers/types.ts';

/**
 * Bring-your-own-key detection: does this bearer token look like a provider's own API key, and whose?
 *
 * 1. An explicit `X-Modro-Provider: <provider id or kind>` header wins (needed for providers whose keys have
 *    no recognisable prefix: Mistral, Together, DeepSeek — whose `sk-` keys look like OpenAI's).
 * 2. Otherwise the key's published prefix (each kind's descriptor, `byok.prefixes`), longest first:
 *    `sk-ant-` Anthropic before `sk-` OpenAI.
 * A candidate must also look like a key (20+ characters of `[A-Za-z0-9._-]`). Managed keys (`mdro_`) and the
 * configured gateway keys are matched before this runs, so they never reach it.
 */

/** Kinds whose API takes a single bearer-style secret, so a caller's key can be used as is. */
const BYOK_KINDS: ReadonlySet<string> = new Set(PROVIDER_DESCRIPTORS.filter((d) => d.byok).map((d) => d.id));

const PREFIXES: ReadonlyArray<readonly [prefix: string, kind: ProviderKind]> = PROVIDER_DESCRIPTORS.flatMap((d) =>
  (d.byok?.prefixes ?? []).map((prefix) => [prefix, d.id] as const),
).sort(([a], [b]) => b.length - a.length);

const KEY_SHAPE = /^[A-Za-z0-9._-]{20,512}$/;

export const PROVIDER_HEADER = 'x-modro-provider';

/** The provider kind (or, with the header, the kind or id) the token claims to belong to; undefined if none. */
export function detectProviderHint(token: string, header: string | undefined): string | undefined {
  if (!KEY_SHAPE.test(token)) return undefined;
  const explicit = header?.trim().toLowerCase();
  if (explicit) return explicit;
  for (const [prefix, kind] of PREFIXES) if (token.startsWith(prefix)) return kind;
  return undefined;
}

/**
 * The configured provider that serves a hint: a provider id wins, then the provider of that kind whose id
 * equals the kind, then the first of that kind. Only kinds in BYOK_KINDS qualify.
 */
export function providerForHint(hint: string, providers: ReadonlyMap<string, ProviderSpec>): ProviderSpec | undefined {
  const byId = providers.get(hint);
  if (byId && BYOK_KINDS.has(byId.kind)) return byId;
  if (!BYOK_KINDS.has(hint)) return undefined;
  let first: ProviderSpec | undefined;
  for (const spec of providers.values()) {
    if (spec.kind !== hint) continue;
    if (spec.id === hint) return spec;
    first ??= spec;
  }
  return first;
}
