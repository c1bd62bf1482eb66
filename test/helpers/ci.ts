/**
 * Whether the tests run in CI, where a missing dependency (PostgreSQL, Chromium) must fail the run instead of
 * skipping its tests. CI systems set `CI` to different values (`true`, `1`, `True`, a build number...), so any
 * non-empty value counts, except `false` and `0` (any case), which people set to turn it off.
 */
export function isCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env['CI']?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== 'false' && value !== '0';
}
