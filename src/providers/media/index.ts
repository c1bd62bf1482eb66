export {
  DEFAULT_MEDIA_SETTINGS,
  type MediaCatalog,
  type MediaRunnerDeps,
  mediaCandidates,
  mediaRunners,
  OUTPUT_PURPOSE,
} from './runner.ts';
