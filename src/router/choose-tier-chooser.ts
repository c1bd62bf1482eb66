import type { Logger } from '../ops/logger.ts';
import { ruleTierChooser } from './rule-chooser.ts';
import type { TierChooser } from './tier-chooser.ts';

/** The `auto` chooser the configuration asks for; `rules` when the learned one is unavailable. */
export function createTierChooser(kind: 'learned' | 'rules', logger: Logger): TierChooser {
  if (kind === 'learned') {
    logger.debug('learned tier chooser not available in this build; using rules');
  }
  return ruleTierChooser;
}
