import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { mockProvider } from '../helpers/gateway.ts';
import { removeDataDir, spawnGateway } from '../helpers/gateway-process.ts';
import { startMockOpenAI } from '../mocks/openai-compatible.ts';

const KEY = 'mdr-reload-process-key-0123456789';

/** `./modro start` as users run it: SIGHUP reloads the file (and does not end the process, its default action). */
it('modro start: SIGHUP and a file change reload the configuration in the running process', async () => {
  const upstream = await startMockOpenAI();
  const config = {
    demo: { enabled: false },
    auth: { keys: [{ id: 'k', key: KEY }] },
    providers: [mockProvider('a', upstream.url, [{ name: 'gpt-4o-mini', qualityRank: 70 }])],
  };
  const gw = await spawnGateway(config);
  try {
    const models = async () => {
      const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } });
      return ((await res.json()) as { data: Array<{ id: string }> }).data
        .map((m) => m.id)
        .filter((id) => id.includes('/'));
    };
    assert.deepEqual(await models(), ['a/gpt-4o-mini']);
    writeFileSync(
      join(gw.dataDir, 'modro.yaml'),
      JSON.stringify({
        storage: { kind: 'sqlite', path: join(gw.dataDir, 'modro.db') },
        ...config,
        providers: [mockProvider('b', upstream.url, [{ name: 'gpt-4o', qualityRank: 80 }])],
        server: { port: 0 },
      }),
    );
    gw.child.kill('SIGHUP');
    const deadline = Date.now() + 10_000;
    while (!(await models()).includes('b/gpt-4o')) {
      assert.ok(Date.now() < deadline, gw.output().slice(-2000));
      await sleep(50);
    }
    assert.deepEqual(await models(), ['b/gpt-4o']);
    assert.match(gw.output(), /SIGHUP: reloading the configuration/);
    assert.match(gw.output(), /configuration reloaded/);
    assert.equal(gw.exitCode(), null, 'SIGHUP did not end the process');
    assert.equal(await gw.stop(), 0);
  } finally {
    await gw.stop('SIGKILL');
    removeDataDir(gw.dataDir);
    await upstream.close();
  }
});
