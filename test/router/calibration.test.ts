import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createLogger } from '../../src/ops/logger.ts';
import { calibrateFromUsage, thresholdsForTarget } from '../../src/router/calibration.ts';
import { openStore } from '../../src/store/db.ts';
import { type UsageRecord, writeUsageBatch } from '../../src/store/usage.ts';
import { findUsageRecord } from '../../src/store/usage-queries.ts';
import { startGateway } from '../helpers/gateway.ts';

const silent = createLogger('silent');

/** A usage record of an `auto` request number `i`, decided by `chooser` with `routerScore`. */
function scoredRecord(i: number, chooser: string, routerScore: number): UsageRecord {
  return {
    requestId: `r${i}`,
    at: 1_000 + i,
    tenantId: 't',
    keyId: null,
    protocol: 'openai-chat',
    requestedModel: 'auto',
    tier: 'fast',
    preset: 'balanced',
    chooser,
    routerScore,
    modelId: 'm',
    providerId: 'p',
    providerKeyId: null,
    attempts: 1,
    stream: false,
    inputTokens: 1,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 1,
    reasoningTokens: 0,
    costNanoUsd: 1,
    latencyMs: 1,
    ttfbMs: 1,
    status: 200,
    errorCode: null,
  };
}

function share(scores: number[], threshold: number) {
  return scores.filter((s) => s >= threshold).length / scores.length;
}

describe('auto calibration from usage records', () => {
  test('thresholds hit the target deep share, and presets keep their order', () => {
    const scores = Array.from({ length: 1000 }, (_, i) => ((i * 7919) % 1000) / 1000);
    const t = thresholdsForTarget(scores, 0.3);
    assert.ok(Math.abs(share(scores, t.balanced.deep) - 0.3) < 0.01);
    assert.ok(Math.abs(share(scores, t.cheapest.deep) - 0.12) < 0.01);
    assert.ok(Math.abs(share(scores, t.quality.deep) - 0.6) < 0.01);
    assert.ok(t.cheapest.deep > t.balanced.deep && t.balanced.deep > t.quality.deep);
  });

  test('reads the newest router scores from the store; too little traffic keeps the defaults', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modro-cal-'));
    const store = await openStore({ kind: 'sqlite', path: join(dir, 'x.db') });
    try {
      const records = Array.from({ length: 400 }, (_, i) => scoredRecord(i, 'learned-v4', i / 400));
      await writeUsageBatch(store.db, records.slice(0, 100));
      assert.equal(
        await calibrateFromUsage(store.db, { deepShare: 0.2, sampleSize: 1000, minSample: 200 }, silent),
        undefined,
      );
      await writeUsageBatch(store.db, records.slice(100));
      const t = await calibrateFromUsage(store.db, { deepShare: 0.2, sampleSize: 1000, minSample: 200 }, silent);
      assert.ok(t);
      assert.ok(Math.abs(t.balanced.deep - 0.8) < 0.01, `deep threshold ${t.balanced.deep}`);
      // sampleSize takes the newest records only.
      const newest = await calibrateFromUsage(store.db, { deepShare: 0.5, sampleSize: 200, minSample: 200 }, silent);
      assert.ok(newest && newest.balanced.deep > 0.7, 'only the newest half (scores 0.5..1) was sampled');
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("with a chooser named, only that chooser's scores calibrate (an operator switched routers)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modro-cal-'));
    const store = await openStore({ kind: 'sqlite', path: join(dir, 'x.db') });
    try {
      // Older records of learned-v4 with scores 0.5..1, newer ones of learned-v1 with scores 0..0.5.
      await writeUsageBatch(store.db, [
        ...Array.from({ length: 300 }, (_, i) => scoredRecord(i, 'learned-v4', 0.5 + i / 600)),
        ...Array.from({ length: 300 }, (_, i) => scoredRecord(300 + i, 'learned-v1', i / 600)),
      ]);
      const target = { deepShare: 0.2, sampleSize: 300, minSample: 200 };
      const mixed = await calibrateFromUsage(store.db, target, silent);
      assert.ok(mixed && mixed.balanced.deep < 0.5, 'the newest 300 records are learned-v1 ones');
      const own = await calibrateFromUsage(store.db, target, silent, 'learned-v4');
      assert.ok(own && Math.abs(own.balanced.deep - 0.9) < 0.01, `deep threshold ${own?.balanced.deep}`);
      assert.equal(await calibrateFromUsage(store.db, target, silent, 'learned-v3'), undefined);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the gateway calibrates its chooser at start from that chooser's own usage records", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modro-cal-'));
    const path = join(dir, 'modro.db');
    const seed = await openStore({ kind: 'sqlite', path });
    // learned-v6's scores 0.5..1 (older), another router's 0..0.5 (newer).
    await writeUsageBatch(seed.db, [
      ...Array.from({ length: 300 }, (_, i) => scoredRecord(i, 'learned-v6', 0.5 + i / 600)),
      ...Array.from({ length: 300 }, (_, i) => scoredRecord(300 + i, 'learned-v1', i / 600)),
    ]);
    await seed.close();
    const gw = await startGateway({
      storage: { kind: 'sqlite', path },
      routing: { calibration: { deepShare: 0.2, sampleSize: 300, minSample: 200 } },
    });
    try {
      const chooser = gw.runtime.router.chooser as { name: string; thresholds?: { balanced: { deep: number } } };
      assert.equal(chooser.name, 'learned-v6');
      assert.ok(chooser.thresholds && Math.abs(chooser.thresholds.balanced.deep - 0.9) < 0.01);
    } finally {
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the operator can route `auto` with the rules chooser (routing.autoChooser: rules), never calibrated', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modro-cal-'));
    const path = join(dir, 'modro.db');
    const seed = await openStore({ kind: 'sqlite', path });
    // Enough of the rules chooser's own records that calibration would run if it applied to that chooser.
    await writeUsageBatch(
      seed.db,
      Array.from({ length: 300 }, (_, i) => scoredRecord(i, 'rules', i / 300)),
    );
    await seed.close();
    const gw = await startGateway({
      storage: { kind: 'sqlite', path },
      routing: { autoChooser: 'rules', calibration: { deepShare: 0.2, sampleSize: 300, minSample: 200 } },
    });
    try {
      assert.equal(gw.runtime.router.chooser.name, 'rules');
      const quiz = 'Which of the following is a prime number?\nA. 21\nB. 27\nC. 29\nD. 33\nAnswer:';
      const { response } = await gw.client.chat.completions
        .create({ model: 'auto', messages: [{ role: 'user', content: quiz }] })
        .withResponse();
      await gw.runtime.usage.flush();
      const record = await findUsageRecord(gw.runtime.store.db, response.headers.get('x-request-id')!);
      assert.equal(record?.chooser, 'rules');
      assert.equal(record?.routerScore?.toFixed(4), response.headers.get('x-model-router-score'));
    } finally {
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the gateway routes `auto` with the learned chooser and records its score', async () => {
    const gw = await startGateway({});
    try {
      const { response } = await gw.client.chat.completions
        .create({ model: 'auto', messages: [{ role: 'user', content: 'What is the capital of France?' }] })
        .withResponse();
      const score = response.headers.get('x-model-router-score');
      assert.match(score ?? '', /^0\.\d{4}$|^1\.0000$/);
      await gw.runtime.usage.flush();
      const record = await findUsageRecord(gw.runtime.store.db, response.headers.get('x-request-id')!);
      assert.equal(record?.chooser, 'learned-v6');
      assert.equal(record?.routerScore?.toFixed(4), score);
      assert.equal(record?.tier, response.headers.get('x-model-router-tier'));
    } finally {
      await gw.close();
    }
  });
});
