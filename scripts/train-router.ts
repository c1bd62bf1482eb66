/**
 * `npm run train:router [-- --data DIR] [-- --out FILE]`: trains the learned tier router from RouteLLM's
 * pairs and writes the weights asset (default src/router/auto/weights-v1.json). Deterministic: full-batch
 * L-BFGS from zero weights and content-hashed folds, so the same data gives the same file.
 * The data folder defaults to $MODRO_ROUTING_DATA, else ../shared/data/routing beside the repository.
 */
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultDataDir, loadPairs } from '../src/router/auto/offline/dataset.ts';
import { DEFAULT_ROUTER_TRAINING, trainRouter } from '../src/router/auto/offline/train-router.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    out: { type: 'string' },
  },
});
const dataDir = values.data ?? defaultDataDir(repoRoot);
const out = values.out ?? resolve(repoRoot, 'src/router/auto/weights-v1.json');

const started = performance.now();
const pairs = loadPairs(dataDir);
console.log(`data: ${dataDir} — ${pairs.rows.length} rows after dropping ${pairs.dropped} contaminated ones`);
const { asset } = trainRouter(
  pairs.rows,
  DEFAULT_ROUTER_TRAINING,
  {
    data: 'routellm_pairs.jsonl (RouteLLM, Apache-2.0; contaminated rows dropped)',
    sha256: pairs.sha256,
    droppedContaminated: pairs.dropped,
    command: 'npm run train:router',
  },
  (line) => console.log(line),
);
const json = `${JSON.stringify(asset)}\n`;
writeFileSync(out, json);
console.log(
  `wrote ${out} (${(json.length / 1024).toFixed(0)} KiB) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
