/**
 * `npm run train:router [-- --version v6|v5|v4|v3|v2|v1] [-- --data DIR] [-- --out FILE] [-- --workers N]`: trains a
 * learned tier router (v6 from the difficulty-labelled prompts, offline/train-difficulty.ts; v1 to v5 from
 * RouteLLM's pairs) and writes its weights asset where versions.ts reads it: v6 (the default) to
 * src/router/auto/weights-v6.json, the gateway's; v1 to v5 (v5 with weights-v5-head.bin) to
 * research/routing/weights/. Deterministic: full-batch L-BFGS from zero weights and content-hashed folds, so
 * the same data gives the same file (whatever `--workers`).
 * The data folder defaults to $MODRO_ROUTING_DATA, else ../shared/data/routing beside the repository.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { assetFiles } from './offline/asset-writer.ts';
import { defaultDataDir, loadPairs, REPO_ROOT } from './offline/dataset.ts';
import { inDifficultyLockbox, loadDifficultyRows } from './offline/difficulty.ts';
import { DEFAULT_DIFFICULTY_TRAINING, trainDifficultyRouter } from './offline/train-difficulty.ts';
import { DEFAULT_ROUTER_TRAINING, trainRouter } from './offline/train-router.ts';
import { DEFAULT_V2_TRAINING, trainRouterV2 } from './offline/train-router-v2.ts';
import { DEFAULT_SUBJECT_HEAD } from './offline/train-subject-head.ts';
import { DEFAULT_WORD_PROBLEM } from './offline/train-word-problem.ts';
import { VERSIONS, type Version, WEIGHTS } from './versions.ts';

const { values } = parseArgs({
  options: {
    version: { type: 'string', default: 'v6' },
    data: { type: 'string' },
    out: { type: 'string' },
    workers: { type: 'string' },
  },
});
const version = values.version as Version;
if (!VERSIONS.includes(version)) throw new Error(`--version must be one of ${VERSIONS.join(', ')}`);
const dataDir = values.data ?? defaultDataDir();
const out = values.out ?? fileURLToPath(WEIGHTS[version]);
const workers = Number(values.workers ?? availableParallelism());

const started = performance.now();
if (version === 'v6') {
  // learned-v6: the difficulty-labelled prompts outside the lockbox (difficulty.ts), pairwise.
  const rows = loadDifficultyRows(dataDir, REPO_ROOT).filter((r) => !inDifficultyLockbox(r));
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.source] = (counts[r.source] ?? 0) + 1;
  console.log(
    `data: ${dataDir}/difficulty + research/routing/data/easy-prompts.jsonl — ${rows.length} rows outside the lockbox`,
  );
  const { asset } = trainDifficultyRouter(
    rows,
    DEFAULT_DIFFICULTY_TRAINING,
    {
      data: 'difficulty/ (MATH MIT; Arena-Hard, FollowBench Apache-2.0; MixEval MIT) + easy-prompts.jsonl (this repository)',
      rowsPerSource: counts,
      lockbox: '15% of every source by content hash (difficulty.ts inDifficultyLockbox), never trained on',
      command: 'npm run train:router -- --version v6',
    },
    (line) => console.log(line),
  );
  const json = `${JSON.stringify(asset)}\n`;
  writeFileSync(out, json);
  console.log(
    `wrote ${out} (${(json.length / 1024).toFixed(0)} KiB) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  process.exit(0);
}
const pairs = loadPairs(dataDir);
console.log(`data: ${dataDir} — ${pairs.rows.length} rows after dropping ${pairs.dropped} contaminated ones`);
const provenance = {
  data: 'routellm_pairs.jsonl (RouteLLM, Apache-2.0; contaminated rows dropped)',
  sha256: pairs.sha256,
  droppedContaminated: pairs.dropped,
  command: `npm run train:router -- --version ${version}`,
};
const log = (line: string) => console.log(line);
// learned-v1/v4/v5 assets: a subject head (v5) goes to its own binary file beside the JSON (asset-writer.ts assetFiles).
const files =
  version === 'v1' || version === 'v4' || version === 'v5'
    ? assetFiles(
        trainRouter(
          pairs.rows,
          DEFAULT_ROUTER_TRAINING,
          provenance,
          log,
          version === 'v1' ? undefined : DEFAULT_WORD_PROBLEM,
          version === 'v5' ? DEFAULT_SUBJECT_HEAD : undefined,
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
              version === 'v3' ? DEFAULT_WORD_PROBLEM : undefined,
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
