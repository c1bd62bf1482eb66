import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { countTokens } from 'gpt-tokenizer';
import { launcherNodeFlags } from '../../bench/lib/children.ts';

/**
 * `./modro start` runs the gateway compiled into dist/ by scripts/build.ts. This builds into a private folder
 * of the project (so it never races a running gateway's dist/) and starts the compiled gateway the way the
 * launcher does, with the launcher's Node flags: assets (router weights, dashboard CSS) must be found beside
 * the compiled modules.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const out = join(root, '.tools', `build-test-${process.pid}`);
const KEY = 'build-test-key-0123456789';

function* allFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* allFiles(path);
    else yield path;
  }
}

describe('the compiled gateway (scripts/build.ts, as ./modro start runs it)', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'modro-build-'));
    const result = spawnSync(process.execPath, [join(root, 'scripts/build.ts'), '--out', out], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
  });
  after(() => {
    child?.kill('SIGKILL');
    rmSync(out, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  test('dist holds JavaScript and the runtime assets, not TypeScript', () => {
    const files = [...allFiles(out)].map((path) => path.slice(out.length + 1));
    assert.ok(files.includes('cli/main.js'));
    assert.ok(files.includes('router/auto/weights-v6.json'));
    assert.ok(files.includes('dashboard/assets/modro.css'));
    assert.deepEqual(
      files.filter((f) => f.endsWith('.ts')),
      [],
    );
  });

  test('--if-stale leaves an up-to-date build alone', () => {
    const before = statSync(join(out, '.built')).mtimeMs;
    const result = spawnSync(process.execPath, [join(root, 'scripts/build.ts'), '--out', out, '--if-stale'], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.equal(statSync(join(out, '.built')).mtimeMs, before);
  });

  test('a build outside the project is refused (the modules could not find node_modules there)', () => {
    const result = spawnSync(process.execPath, [join(root, 'scripts/build.ts'), '--out', join(dir, 'x')], {
      encoding: 'utf8',
    });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /inside the project/);
    assert.equal(existsSync(join(dir, 'x')), false);
  });

  test('starts with the launcher flags and routes auto through the shipped weights', async () => {
    writeFileSync(
      join(dir, 'modro.yaml'),
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        storage: { kind: 'sqlite', path: join(dir, 'modro.db') },
        auth: { keys: [{ id: 'k', key: KEY }] },
      }),
    );
    const flags = launcherNodeFlags();
    assert.ok(flags.includes('--max-semi-space-size=16'), flags.join(' '));
    assert.ok(flags.includes('--no-concurrent-recompilation'), flags.join(' '));
    assert.ok(flags.includes('--liftoff-only'), flags.join(' '));
    const proc = spawn(
      process.execPath,
      [...flags, join(out, 'cli/main.js'), 'start', '--config', join(dir, 'modro.yaml')],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, MODRO_API_KEY: '', OPENAI_API_KEY: '' },
      },
    );
    child = proc;
    let output = '';
    proc.stdout!.on('data', (d) => {
      output += d;
    });
    proc.stderr!.on('data', (d) => {
      output += d;
    });
    while (!/listening on (http:\/\/\S+)/.test(output)) {
      assert.equal(proc.exitCode, null, `gateway exited early: ${output}`);
      await sleep(50);
    }
    const url = /listening on (http:\/\/\S+)/.exec(output)![1]!;
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'auto',
        messages: [{ role: 'user', content: 'Prove that there are infinitely many primes.' }],
      }),
    });
    const body = (await res.json()) as {
      choices: Array<{ message: { content: string } }>;
      usage: { completion_tokens: number };
    };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(res.headers.get('x-model-router-provider'), 'demo');
    assert.match(res.headers.get('x-model-router-score') ?? '', /^0\.\d+$|^1(\.0+)?$/);
    assert.match(body.choices[0]!.message.content, /demo/i);
    // The demo's usage is counted by the compiled token-count worker (an estimate would differ).
    assert.equal(body.usage.completion_tokens, countTokens(body.choices[0]!.message.content));
    assert.doesNotMatch(output, /token counter worker failed/);
    const css = await fetch(`${url}/assets/modro.css`);
    assert.equal(css.status, 200);
    assert.ok((await css.text()).length > 100);
    proc.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) =>
      proc.exitCode !== null ? resolve(proc.exitCode) : proc.on('exit', (c) => resolve(c)),
    );
    assert.equal(code, 0, output);
  });
});
