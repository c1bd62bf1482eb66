import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { masterKeyOf } from '../../src/channels/master-key.ts';

const run = promisify(execFile);
const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const KEY = 'sk-cli-stdin-0123456789abcdefghijklmnopq';

/** `./modro channels …` as its own process: a generated master key, a key read from standard input, never printed. */
it('modro channels: generate-master-key, create with --key-stdin, list; the key is never printed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'modro-ch-cli-'));
  try {
    const config = join(dir, 'modro.yaml');
    writeFileSync(config, `storage:\n  kind: sqlite\n  path: ${join(dir, 'modro.db')}\n`);
    const generated = await run(process.execPath, [MAIN, 'channels', 'generate-master-key'], { timeout: 20_000 });
    const masterKey = generated.stdout.trim();
    assert.ok(masterKeyOf(masterKey, 'output'), 'a usable master key');
    const env = { PATH: process.env.PATH, MODRO_MASTER_KEY: masterKey };
    const child = run(
      process.execPath,
      [MAIN, 'channels', 'create', 'cli-made', '--kind', 'openai', '--key-stdin', '--label', 'ci', '--config', config],
      { env },
    );
    child.child.stdin?.end(`${KEY}\n`);
    const created = await child;
    assert.match(created.stdout, /cli-made\topenai\tenabled/);
    assert.ok(created.stdout.includes(`…${KEY.slice(-4)}`));
    const listed = await run(process.execPath, [MAIN, 'channels', 'list', '--json', '--config', config], { env });
    const [channel] = JSON.parse(listed.stdout) as Array<{ id: string; credentials: Array<{ label: string }> }>;
    assert.equal(channel?.id, 'cli-made');
    assert.equal(channel?.credentials[0]?.label, 'ci');
    for (const out of [created.stdout, created.stderr, listed.stdout, listed.stderr]) assert.ok(!out.includes(KEY));
    const noKeyChild = run(process.execPath, [MAIN, 'channels', 'add-key', 'cli-made', '--config', config], {
      env: { PATH: process.env.PATH },
      timeout: 20_000,
    });
    const noKey = await noKeyChild.catch((e: { code: number; stderr: string }) => e);
    assert.equal((noKey as { code: number }).code, 1);
    assert.match((noKey as { stderr: string }).stderr, /MODRO_MASTER_KEY/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
