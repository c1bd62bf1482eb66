import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

/**
 * The shape of src/, as docs/architecture.md draws it: folders depend on each other without cycles, and the
 * layers point one way (the pipeline knows no protocol and no HTTP; protocols know no HTTP; nothing in src/
 * imports research code or tests).
 */
const root = resolve(import.meta.dirname, '..');
const src = join(root, 'src');

function* sources(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (entry.name.endsWith('.ts')) yield path;
  }
}

/** Folder (first path segment under src/) → the folders its files import from. */
function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sources(src)) {
    const from = relative(src, file).split('/')[0]!;
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const match of readFileSync(file, 'utf8').matchAll(
      /(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/g,
    )) {
      const target = relative(src, resolve(dirname(file), match[1]!));
      assert.ok(!target.startsWith('..'), `${relative(root, file)} imports ${match[1]} from outside src/`);
      const to = target.split('/')[0]!;
      if (to !== from && !to.endsWith('.ts')) edges.add(to);
    }
  }
  return graph;
}

function cycles(graph: Map<string, Set<string>>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next].join(' → '));
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

test('src/ folders import each other without cycles', () => {
  assert.deepEqual(cycles(folderGraph()), []);
});

test('layers point one way: pipeline ↛ protocols/server, protocols ↛ server, nothing ↛ research or tests', () => {
  const graph = folderGraph();
  const forbidden: Array<[string, string]> = [
    ['pipeline', 'protocols'],
    ['pipeline', 'server'],
    ['protocols', 'server'],
    ['providers', 'pipeline'],
    ['providers', 'server'],
    ['router', 'pipeline'],
  ];
  for (const [from, to] of forbidden) assert.ok(!graph.get(from)?.has(to), `${from} imports ${to}`);
});
