import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/** `modro discover`: one listing of every configured provider, printed with each new model's place. */
describe('modro discover', () => {
  let upstream: MockOpenAI;
  let dir: string;
  before(async () => {
    upstream = await startMockOpenAI({ models: ['gpt-4o-mini', 'gpt-4.1-mini', 'gpt-4o'] });
    dir = mkdtempSync(join(tmpdir(), 'modro-discover-'));
  });
  after(async () => {
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (config: unknown) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const path = join(dir, 'modro.yaml');
      writeFileSync(path, JSON.stringify(config));
      const child = spawn(process.execPath, ['src/cli/main.ts', 'discover', '--config', path], {
        cwd: new URL('../..', import.meta.url).pathname,
        env: { ...process.env, OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '', GEMINI_API_KEY: '' },
      });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.stderr.on('data', (d) => {
        out += d;
      });
      child.on('exit', (code) => resolve({ code, out }));
    });

  it('prints ranked models with their tier and unranked ones to rank; nothing is written', async () => {
    const { code, out } = await run({
      storage: { kind: 'sqlite', path: join(dir, 'modro.db') },
      providers: [
        {
          id: 'open',
          kind: 'openai',
          baseUrl: upstream.url,
          keys: [MOCK_API_KEY],
          models: [{ name: 'gpt-4o-mini', price: { input: 5, output: 10 }, qualityRank: 68 }],
        },
      ],
    });
    assert.equal(code, 0, out);
    assert.match(out, /open: listed 3 model\(s\)/);
    assert.match(out, /\+ open\/gpt-4\.1-mini\t\$0\.4\/\$1\.6 per Mtok\trank 68, tier fast/);
    assert.match(out, /\+ open\/gpt-4o\t.*unranked/);
    assert.ok(!out.includes('+ open/gpt-4o-mini'), 'already in the catalog');
  });

  it('a failing listing is named, with exit code 1', async () => {
    upstream.faults.push({ kind: 'status', status: 503 });
    const { code, out } = await run({
      storage: { kind: 'sqlite', path: join(dir, 'modro.db') },
      providers: [{ id: 'open', kind: 'openai', baseUrl: upstream.url, keys: [MOCK_API_KEY] }],
    });
    assert.equal(code, 1, out);
    assert.match(out, /open: listing failed \(provider_unavailable, upstream 503\)/);
    assert.ok(!out.includes(MOCK_API_KEY));
  });
});
