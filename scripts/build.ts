/**
 * `npm run build [-- --if-stale]`: compiles src/ into dist/ (git-ignored) with the project's own tsc and copies
 * the non-TypeScript assets (router weights, CSS) beside the compiled modules, so `./modro start` runs plain
 * JavaScript: Node's type stripper (a WebAssembly module, ~28 MB resident) is then never loaded.
 * `--if-stale` does nothing when dist/ is newer than every file under src/ and the build configuration.
 * Why a build for start but not for tests: docs/decisions/0015-compiled-start-and-heap-flags.md.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: { 'if-stale': { type: 'boolean', default: false }, out: { type: 'string' } },
});
const src = join(root, 'src');
const out = resolve(args.out ?? join(root, 'dist'));
// Inside the project, the compiled modules find node_modules/ and the package scope ("type": "module") above them.
if (relative(root, out).startsWith('..') || out === root) {
  process.stderr.write(`modro: build: --out must be a folder inside the project (${root}), got ${out}\n`);
  process.exit(2);
}
const stamp = join(out, '.built');

function* files(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

function isStale(): boolean {
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  const inputs = [join(root, 'tsconfig.json'), join(root, 'tsconfig.build.json'), join(root, 'package-lock.json')];
  for (const path of inputs) if (existsSync(path) && statSync(path).mtimeMs > built) return true;
  for (const path of files(src)) if (statSync(path).mtimeMs > built) return true;
  return false;
}

if (args['if-stale'] && !isStale()) process.exit(0);

const started = performance.now();
// Built beside the target and moved into place at the end: a failed build leaves the previous one intact,
// and a gateway starting meanwhile never sees a half-written folder.
const staging = `${out}.building-${process.pid}`;
rmSync(staging, { recursive: true, force: true });
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', staging], {
  stdio: 'inherit',
});
if (result.status !== 0) {
  rmSync(staging, { recursive: true, force: true });
  process.stderr.write(`modro: build failed (tsc exit ${result.status ?? result.signal})\n`);
  process.exit(1);
}
let assets = 0;
for (const path of files(src)) {
  if (path.endsWith('.ts')) continue;
  const target = join(staging, relative(src, path));
  mkdirSync(dirname(target), { recursive: true });
  cpSync(path, target);
  assets++;
}
writeFileSync(join(staging, '.built'), `${new Date().toISOString()}\n`);
rmSync(out, { recursive: true, force: true });
renameSync(staging, out);
process.stderr.write(
  `modro: built ${relative(root, out) || out} (${assets} assets) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
);
