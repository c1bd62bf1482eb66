/**
 * What a Gemini model name says about the model's generation, for the few behaviours that changed with
 * Gemini 3 (thinking levels instead of budgets, mandatory thought signatures on replayed function calls).
 * Unknown names (aliases such as `gemini-flash-latest`) count as current models.
 */

export interface GeminiModelFamily {
  /** Major version, or undefined when the name does not carry one. */
  major: number | undefined;
  /** Gemini 3 or later (or unversioned): thinking levels, strict thought-signature validation. */
  modern: boolean;
  /** A Pro model (Gemini 3 Pro accepts only the LOW and HIGH thinking levels). */
  pro: boolean;
  /** Gemini 2.5 Flash and Flash-Lite accept a thinking budget of 0 (thinking off); Pro does not. */
  canDisableThinking: boolean;
}

export function geminiModelFamily(upstreamName: string): GeminiModelFamily {
  const name = upstreamName.replace(/^models\//, '').toLowerCase();
  const match = /^gemini-(\d+)(?:\.\d+)?/.exec(name);
  const major = match ? Number(match[1]) : undefined;
  const pro = /-pro\b/.test(name);
  return {
    major,
    modern: major === undefined || major >= 3,
    pro,
    canDisableThinking: !pro,
  };
}
