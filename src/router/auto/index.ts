/** The learned `auto` tier router: see docs/routing.md. */
export { defaultRouterModel, modelFromAsset, type RouterAsset, readRouterAsset } from './asset.ts';
export { defaultRouterModelV2, modelFromAssetV2, type RouterAssetV2, readRouterAssetV2 } from './asset-v2.ts';
export {
  createLearnedTierChooser,
  DEFAULT_ROUTER_VERSION,
  type LearnedTierChooser,
  type LearnedTierChooserOptions,
  type RouterVersion,
} from './chooser.ts';
export { promptOf, type RoutedPrompt } from './request-prompt.ts';
export {
  calibrateThresholds,
  PRESET_SHARES,
  type PresetThresholds,
  type TierShares,
  type TierThresholds,
  tierForScore,
} from './thresholds.ts';
