/**
 * `npm run train:router [-- --version v5|v4|v3|v2|v1] [-- --data DIR] [-- --out FILE] [-- --workers N]`: trains a
 * learned tier router from RouteLLM's pairs and writes its weights asset (default src/router/auto/weights-v3.json,
 * or weights-v5.json / -v4.json / -v2.json / -v1.json with `--version v5` / `v4` / `v2` / `v1`). Deterministic: full-batch
 * L-BFGS from zero weights and content-hashed folds, so the same data gives the same file (whatever
 * `--workers`).
 * The data folder defaults to $MODRO_ROUTING_DATA, else ../shared/data/routing beside the repository.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { assetFiles } from '../src/router/auto/asset.ts';
import { defaultDataDir, loadPairs } from '../src/router/auto/offline/dataset.ts';
import { DEFAULT_ROUTER_TRAINING, trainRouter } from '../src/router/auto/offline/train-router.ts';
import { DEFAULT_V2_TRAINING, trainRouterV2 } from '../src/router/auto/offline/train-router-v2.ts';
import { DEFAULT_SUBJECT_HEAD } from '../src/router/auto/offline/train-subject-head.ts';
import { DEFAULT_WORD_PROBLEM } from '../src/router/auto/offline/train-word-problem.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    version: { type: 'string', default: 'v3' },
    data: { type: 'string' },
    out: { type: 'string' },
    workers: { type: 'string' },
  },
});
if (!['v1', 'v2', 'v3', 'v4', 'v5'].includes(values.version)) throw new Error('--version must be v1, v2, v3, v4 or v5');
const dataDir = values.data ?? defaultDataDir(repoRoot);
const out = values.out ?? resolve(repoRoot, `src/router/auto/weights-${values.version}.json`);
const workers = Number(values.workers ?? availableParallelism());

const started = performance.now();
const pairs = loadPairs(dataDir);
console.log(`data: ${dataDir} — ${pairs.rows.length} rows after dropping ${pairs.dropped} contaminated ones`);
const provenance = {
  data: 'routellm_pairs.jsonl (RouteLLM, Apache-2.0; contaminated rows dropped)',
  sha256: pairs.sha256,
  droppedContaminated: pairs.dropped,
  command: `npm run train:router -- --version ${values.version}`,
};
const log = (line: string) => console.log(line);
// learned-v1/v4/v5 assets: a subject head (v5) goes to its own binary file beside the JSON (asset.ts assetFiles).
const files =
  values.version === 'v1' || values.version === 'v4' || values.version === 'v5'
    ? assetFiles(
        trainRouter(
          pairs.rows,
          DEFAULT_ROUTER_TRAINING,
          provenance,
          log,
          values.version === 'v1' ? undefined : DEFAULT_WORD_PROBLEM,
          values.version === 'v5' ? DEFAULT_SUBJECT_HEAD : undefined,
        ).asset,
        out,
      )
    : {
        json: `${JSON.stringify(
          (
            await trainRouterV2(
              pairs.rows,
              DEFAULT_V2_TRAINING,
              provenance,
              log,
              workers,
              values.version === 'v3' ? DEFAULT_WORD_PROBLEM : undefined,
            )
          ).asset,
        )}\n`,
        head: undefined,
      };
writeFileSync(out, files.json);
if (files.head) writeFileSync(files.head.path, files.head.bytes);
console.log(
  `wrote ${out} (${(files.json.length / 1024).toFixed(0)} KiB)` +
    (files.head ? ` and ${files.head.path} (${(files.head.bytes.length / 1024).toFixed(0)} KiB)` : '') +
    ` in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
