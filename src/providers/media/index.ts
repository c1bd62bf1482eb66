export {
  DEFAULT_MEDIA_SETTINGS,
  type MediaCatalog,
  type MediaRunnerDeps,
  mediaRunners,
  OUTPUT_PURPOSE,
} from './runner.ts';
