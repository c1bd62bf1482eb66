/** The learned `auto` tier router: see docs/routing.md. */
export { defaultRouterModel, modelFromAsset, type RouterAsset, readRouterAsset } from './asset.ts';
export { createLearnedTierChooser, type LearnedTierChooser, type LearnedTierChooserOptions } from './chooser.ts';
export { promptOf, type RoutedPrompt } from './request-prompt.ts';
export {
  calibrateThresholds,
  PRESET_SHARES,
  type PresetThresholds,
  type TierShares,
  type TierThresholds,
  tierForScore,
} from './thresholds.ts';
