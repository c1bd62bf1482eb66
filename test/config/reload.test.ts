import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigReloader, type ConfigReloaderOptions, configChanges } from '../../src/config/reload.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { mockProvider, startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { waitFor } from '../tenancy/helpers.ts';

describe('configChanges', () => {
  it('names reloadable sections and settings that need a restart, by name only', () => {
    const a = parseConfig({ server: { port: 8000 } }, {});
    const b = parseConfig(
      {
        server: { port: 9000 },
        routing: { maxAttempts: 2, autoChooser: 'rules' },
        catalog: { exclude: ['x'] },
        storage: { kind: 'sqlite', path: '/tmp/other.db' },
      },
      {},
    );
    const changes = configChanges(a, b);
    assert.deepEqual(changes.reloadable.sort(), ['catalog', 'routing']);
    assert.deepEqual(changes.restartNeeded.sort(), ['routing.autoChooser', 'server', 'storage']);
    assert.deepEqual(configChanges(a, parseConfig({ server: { port: 8000 } }, {})), {
      reloadable: [],
      restartNeeded: [],
    });
  });
});

describe('ConfigReloader.reload', () => {
  it('a reload landing during a pass (the file watch, on a loaded machine) does not turn the caller’s true into false', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modro-reload-'));
    try {
      const path = join(dir, 'modro.yaml');
      let running = parseConfig({}, {});
      const messages: string[] = [];
      const log = (_fields: unknown, msg: string) => void messages.push(msg);
      let landed: Promise<boolean> | undefined;
      const reloader: ConfigReloader = new ConfigReloader({
        path,
        env: {},
        signal: false,
        logger: { info: log, warn: log, error: log } as unknown as ConfigReloaderOptions['logger'],
        apply: (next) => {
          // What the watch's debounced reload does when the caller's pass takes longer than the debounce.
          landed ??= reloader.reload();
          const changes = configChanges(running, next);
          running = next;
          return changes;
        },
      });
      writeFileSync(path, JSON.stringify({ routing: { maxAttempts: 2 } }));
      assert.equal(await reloader.reload(), true, messages.join('; '));
      assert.equal(running.routing.maxAttempts, 2);
      // The pass that started after it read the same file: nothing left to apply.
      assert.equal(await landed, false);
      assert.deepEqual(messages, ['configuration reloaded', 'configuration reloaded: nothing to apply']);
      // Calls made before a pass starts share it.
      writeFileSync(path, JSON.stringify({ routing: { maxAttempts: 3 } }));
      const [a, b] = await Promise.all([reloader.reload(), reloader.reload()]);
      assert.deepEqual([a, b, running.routing.maxAttempts], [true, true, 3]);
      reloader.close();
      assert.equal(await reloader.reload(), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ConfigReloader file watch', () => {
  it('follows editor saves (rename over, delete and recreate) and does not reload for other files in the folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modro-watch-'));
    const path = join(dir, 'modro.yaml');
    let passes = 0;
    let running = parseConfig({}, {});
    const log = () => {};
    writeFileSync(path, JSON.stringify({ routing: { maxAttempts: 1 } }));
    const reloader = new ConfigReloader({
      path,
      env: {},
      signal: false,
      debounceMs: 20,
      rewatchMs: 50,
      logger: { info: log, warn: log, error: log } as unknown as ConfigReloaderOptions['logger'],
      apply: (next) => {
        passes++;
        const changes = configChanges(running, next);
        running = next;
        return changes;
      },
    });
    const attempts = () => running.routing.maxAttempts;
    try {
      reloader.start();
      // Data files beside the configuration (a journal, a database's WAL) must not reload it (nor, watching the file alone, wake the process).
      for (let i = 0; i < 20; i++) writeFileSync(join(dir, 'usage-journal.jsonl'), `line ${i}\n`, { flag: 'a' });
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(passes, 0, 'writes to other files in the folder ran a reload');
      // An editor's atomic save: a new file renamed over the old one.
      writeFileSync(`${path}.tmp`, JSON.stringify({ routing: { maxAttempts: 2 } }));
      renameSync(`${path}.tmp`, path);
      await waitFor(() => attempts() === 2, 'reloaded after a rename over the file', 5_000);
      // The watch now follows the new file: an in-place write to it is seen too.
      writeFileSync(path, JSON.stringify({ routing: { maxAttempts: 3 } }));
      await waitFor(() => attempts() === 3, 'reloaded after an in-place write to the renamed file', 5_000);
      // Deleted, then written again a little later.
      unlinkSync(path);
      await new Promise((resolve) => setTimeout(resolve, 120));
      writeFileSync(path, JSON.stringify({ routing: { maxAttempts: 4 } }));
      await waitFor(() => attempts() === 4, 'reloaded after the file came back', 5_000);
      writeFileSync(path, JSON.stringify({ routing: { maxAttempts: 5 } }));
      await waitFor(() => attempts() === 5, 'reloaded after an in-place write to the recreated file', 5_000);
    } finally {
      reloader.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hot reload of the configuration file', () => {
  let upstream: MockOpenAI;
  let gw: TestGateway;
  let file: string;
  let reloader: ConfigReloader;
  let base: ConfigInput;

  const write = (input: ConfigInput | string) =>
    writeFileSync(file, typeof input === 'string' ? input : JSON.stringify(input, null, 2));
  const chat = (model: string, stream = false) =>
    gw.post('/v1/chat/completions', { model, stream, messages: [{ role: 'user', content: 'hello there' }] });

  before(async () => {
    upstream = await startMockOpenAI({ chunkDelayMs: 40 });
    const providers = [mockProvider('a', upstream.url, [{ name: 'gpt-4o-mini', qualityRank: 70 }])];
    gw = await startGateway({ demo: { enabled: false }, providers });
    file = join(gw.dataDir, 'modro.yaml');
    // What startGateway ran with, so that only what a test changes differs.
    base = {
      demo: { enabled: false },
      providers,
      server: { port: 0 },
      storage: { kind: 'sqlite', path: join(gw.dataDir, 'modro.db') },
      auth: { keys: [{ id: 'test', key: TEST_API_KEY }] },
      usage: { flushIntervalMs: 50 },
      logging: { level: 'info' },
    };
    write(base);
    reloader = new ConfigReloader({
      path: file,
      env: {},
      logger: gw.runtime.logger,
      apply: (next) => gw.runtime.applyConfig(next),
      debounceMs: 50,
    });
    reloader.start();
  });
  after(async () => {
    reloader?.close();
    await gw?.close();
    await upstream?.close();
  });

  it('a new provider in the file serves the next request; a stream under way is not dropped', async () => {
    assert.equal((await chat('gpt-4o')).status, 404);
    const streaming = await chat('gpt-4o-mini', true);
    assert.equal(streaming.status, 200);
    assert.equal(streaming.headers.get('x-model-router-provider'), 'a');
    const reader = streaming.body!.getReader();
    const first = await reader.read();
    assert.equal(first.done, false);

    // Provider a is replaced by b while the stream from a is still under way.
    write({ ...base, providers: [mockProvider('b', upstream.url, [{ name: 'gpt-4o', qualityRank: 80 }])] });
    assert.equal(await reloader.reload(), true);
    assert.ok(gw.runtime.catalog.byId.has('b/gpt-4o'));
    assert.ok(!gw.runtime.catalog.providers.has('a'));

    let rest = new TextDecoder().decode(first.value);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    assert.match(rest, /data: \[DONE\]/);
    assert.doesNotMatch(rest, /"error"/);

    const now = await chat('gpt-4o');
    assert.equal(now.status, 200, await now.text());
    assert.equal(now.headers.get('x-model-router-provider'), 'b');
    assert.equal((await chat('gpt-4o-mini')).status, 404);
    assert.ok(
      gw.runtime.channels.configured().some((p) => p.id === 'b'),
      'the admin view lists the new provider',
    );
  });

  it('an invalid file keeps the running configuration and logs one line without the secret in it', async () => {
    const secret = 'sk-live-SECRET-never-logged-0123456789';
    const before = gw.logs.length;
    write(`providers:\n  - id: c\n    kind: openai\n    keys: [${secret}]\n   bad: [indent\n`);
    assert.equal(await reloader.reload(), false);
    write({ ...base, providers: [{ id: 'c', kind: 'nope', keys: [secret] }] } as unknown as ConfigInput);
    assert.equal(await reloader.reload(), false);
    const lines = gw.logs.slice(before).filter((l) => l.includes('configuration not reloaded'));
    // Two reloads called here (the file watch may add its own, debounced, for the same files).
    assert.ok(lines.length >= 2, gw.logs.slice(before).join(''));
    for (const line of gw.logs.slice(before)) assert.ok(!line.includes(secret), line);
    for (const line of lines) assert.ok(!(JSON.parse(line) as { msg: string }).msg.includes('\n'), 'one line');
    assert.ok(
      lines.some((l) => /not valid YAML: .* at line \d+/.test(l)),
      lines.join(''),
    );
    assert.ok(
      lines.some((l) => /providers\[0\]\.kind/.test(l)),
      lines.join(''),
    );
    assert.equal((await chat('gpt-4o')).status, 200, 'the running configuration still serves');
  });

  it('a setting that needs a restart is not applied and the log says so', async () => {
    const before = gw.logs.length;
    const port = gw.runtime.app.server.address();
    write({
      ...base,
      server: { port: 1 },
      providers: [mockProvider('b', upstream.url, [{ name: 'gpt-4o', qualityRank: 80 }])],
    });
    await reloader.reload();
    const logged = gw.logs.slice(before).join('');
    assert.match(logged, /need a restart and were not applied: server/);
    assert.equal(gw.runtime.config.server.port, 0);
    assert.deepEqual(gw.runtime.app.server.address(), port);
  });

  it('routing settings apply in place; a file change and SIGHUP each reload without a call', async () => {
    write({
      ...base,
      routing: { maxAttempts: 2 },
      providers: [mockProvider('b', upstream.url, [{ name: 'gpt-4o', qualityRank: 80 }])],
    });
    await waitFor(() => gw.runtime.config.routing.maxAttempts === 2, 'routing reloaded by the watch', 5_000);
    write({
      ...base,
      routing: { maxAttempts: 2 },
      providers: [mockProvider('d', upstream.url, [{ name: 'gpt-4.1-nano', qualityRank: 60 }])],
    });
    // The watch reloads too; SIGHUP on its own must do it even if the watch were slow.
    process.emit('SIGHUP', 'SIGHUP');
    await waitFor(() => gw.runtime.catalog.byId.has('d/gpt-4.1-nano'), 'provider d reloaded', 5_000);
    const res = await chat('gpt-4.1-nano');
    assert.equal(res.status, 200, await res.text());
    assert.equal(res.headers.get('x-model-router-provider'), 'd');
  });
});
