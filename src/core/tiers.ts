/** Capability tiers and presets: the words a caller uses instead of a model name. */

export const TIERS = ['utility', 'fast', 'deep'] as const;
export type Tier = (typeof TIERS)[number];

export const PRESETS = ['cheapest', 'balanced', 'quality'] as const;
export type Preset = (typeof PRESETS)[number];

export function isTier(value: string): value is Tier {
  return value === 'utility' || value === 'fast' || value === 'deep';
}

export function isPreset(value: string): value is Preset {
  return value === 'cheapest' || value === 'balanced' || value === 'quality';
}

/** Other names a caller may use for a preset: the product's own words ("Highest quality"). */
export const PRESET_ALIASES: Readonly<Record<string, Preset>> = { 'highest-quality': 'quality' };

/** The preset a name or alias means, or undefined. */
export function toPreset(value: string): Preset | undefined {
  return isPreset(value) ? value : PRESET_ALIASES[value];
}
