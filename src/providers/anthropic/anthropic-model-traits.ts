/**
 * What a Claude model accepts, read from its name, because the catalog's capability flags do not say which
 * request shapes a model rejects. Generations differ in three ways that turn a valid request into a 400:
 * - Claude 4.6 added adaptive thinking (`thinking: {type: 'adaptive'}` + `output_config.effort`); 4.7 and
 *   later reject the manual form (`type: 'enabled'` + `budget_tokens`) and `type: 'disabled'`.
 * - Claude 4.7 and later reject `temperature`, `top_p` and `top_k` ("`temperature` is deprecated for this model").
 * - Claude 4.5 and 4.6 accept `temperature` or `top_p`, not both.
 * @see https://platform.claude.com/docs/en/build-with-claude/adaptive-thinking
 * @see https://platform.claude.com/docs/en/about-claude/models/migration-guide
 */

export interface AnthropicModelTraits {
  /** `thinking: {type: 'adaptive'}` with `output_config.effort` is available (and preferred). */
  adaptiveThinking: boolean;
  /** Only adaptive thinking is accepted: no `budget_tokens`, no `type: 'disabled'`. */
  adaptiveOnly: boolean;
  /** temperature, top_p and top_k are rejected. */
  noSampling: boolean;
  /** temperature and top_p may not be sent together. */
  exclusiveSampling: boolean;
}

/** Families that shipped adaptive-only from their first release, whatever their number says. */
const ADAPTIVE_ONLY_FAMILIES = /(mythos|fable)/;

/**
 * Major and minor version from names such as `claude-sonnet-4-5-20250929`, `claude-opus-4-7`,
 * `claude-3-7-sonnet-20250219`, `claude-fable-5-1` or Bedrock's `anthropic.claude-opus-4-6-v1`.
 * A trailing 8-digit date is not a minor version. Undefined when the name carries no version.
 */
export function claudeVersion(name: string): { major: number; minor: number } | undefined {
  const tokens = name.toLowerCase().split(/[^a-z0-9]+/);
  const start = tokens.indexOf('claude');
  if (start < 0) return undefined;
  const numbers: number[] = [];
  for (const token of tokens.slice(start + 1)) {
    if (/^\d{1,2}$/.test(token)) numbers.push(Number(token));
    else if (/^\d{8}$/.test(token) || /^v\d+$/.test(token)) break;
    else if (numbers.length > 0) break;
  }
  if (numbers.length === 0) return undefined;
  return { major: numbers[0]!, minor: numbers[1] ?? 0 };
}

function atLeast(version: { major: number; minor: number } | undefined, major: number, minor: number): boolean {
  if (!version) return false;
  return version.major > major || (version.major === major && version.minor >= minor);
}

export function anthropicModelTraits(upstreamName: string): AnthropicModelTraits {
  const name = upstreamName.toLowerCase();
  const version = claudeVersion(name);
  const newFamily = ADAPTIVE_ONLY_FAMILIES.test(name);
  return {
    adaptiveThinking: newFamily || atLeast(version, 4, 6),
    adaptiveOnly: newFamily || atLeast(version, 4, 7),
    noSampling: newFamily || atLeast(version, 4, 7),
    exclusiveSampling: atLeast(version, 4, 5),
  };
}
