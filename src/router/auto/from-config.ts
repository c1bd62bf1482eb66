import type { Logger } from '../../ops/logger.ts';
import type { RouterVersion } from './asset.ts';
import { createLearnedTierChooser } from './learned.ts';
import { ruleTierChooser } from './rules.ts';
import type { PresetThresholds } from './thresholds.ts';
import type { TierChooser } from './tier-decision.ts';

/**
 * The `auto` chooser the configuration asks for (`routing.autoChooser`). `learned` loads the shipped weights
 * once; if they cannot be loaded the transparent rules take over (and say so in the log), so `auto` always
 * answers.
 */
export function createTierChooser(
  kind: 'learned' | 'rules',
  logger: Logger,
  learned: { version?: RouterVersion; thresholds?: Partial<PresetThresholds> } = {},
): TierChooser {
  if (kind === 'rules') return ruleTierChooser;
  try {
    return createLearnedTierChooser(learned);
  } catch (err) {
    logger.error({ err }, 'learned tier chooser unavailable; using the rules chooser');
    return ruleTierChooser;
  }
}
