import { buildCatalog, type DiscoveredModels } from '../catalog/catalog.ts';
import { ModelDiscovery } from '../catalog/discovery.ts';
import type { Config } from '../config/schema.ts';
import { UpstreamPool } from '../providers/http.ts';
import { adapterFor } from '../providers/registry.ts';
import { naturalTier } from '../router/presets.ts';

/**
 * `modro discover`: lists every provider of the configuration (file and environment) once, as a running
 * gateway's discovery would (docs/routing.md, "Discovery"), and prints what each listing would add: priced and
 * ranked models with the tier they would join, unranked ones to rank (`catalog.ranks`), and failures. It changes
 * nothing; a running gateway refreshes on its schedule or on `POST /admin/api/catalog/refresh`.
 */
export async function runDiscover(config: Config, env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  const before = buildCatalog(config, env);
  const pool = new UpstreamPool();
  let lists: DiscoveredModels = new Map();
  const discovery = new ModelDiscovery({
    settings: { ...config.catalog.discovery, enabled: true },
    catalog: before,
    providers: () => {
      const off = new Set(config.providers.filter((p) => p.discover === false).map((p) => p.id ?? p.kind));
      return [...before.providers.values()].filter((p) => p.kind !== 'demo' && !off.has(p.id));
    },
    adapterFor,
    pool,
    logger: { info: () => {}, warn: () => {}, error: () => {} },
    apply: () => {},
  });
  try {
    const results = await discovery.refresh();
    lists = discovery.discovered;
    const after = buildCatalog(config, env, [], lists);
    const known = new Set(before.models.map((m) => m.id));
    for (const r of results) {
      out.write(
        r.ok
          ? `${r.provider}: listed ${r.listed} model(s)\n`
          : `${r.provider}: listing failed (${r.code}${r.upstreamStatus ? `, upstream ${r.upstreamStatus}` : ''})\n`,
      );
    }
    let failed = results.some((r) => !r.ok) ? 1 : 0;
    for (const m of after.models) {
      if (known.has(m.id)) continue;
      const place = m.unranked
        ? 'unranked: in no tier until ranked (catalog.ranks)'
        : m.mode === 'embedding'
          ? `rank ${m.qualityRank}, embeddings`
          : `rank ${m.qualityRank}, tier ${naturalTier(m, config.routing.tierFloors).join(',')}`;
      out.write(`+ ${m.id}\t$${m.price.input}/$${m.price.output} per Mtok\t${place}\n`);
    }
    for (const w of after.warnings) if (!before.warnings.includes(w)) out.write(`warning: ${w}\n`);
    if (results.length === 0) {
      out.write('No provider to list (demo and keyless providers are not listed).\n');
      failed = 0;
    }
    return failed;
  } finally {
    await pool.close();
  }
}
