import { configSchema } from '../../src/config/schema.ts';

/** The default upstream caps (`limits.upstream`), for tests that build a ProviderSpec by hand. */
export const DEFAULT_UPSTREAM_LIMITS = configSchema.parse({}).limits.upstream;
