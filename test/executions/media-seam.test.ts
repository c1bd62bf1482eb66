import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayError } from '../../src/core/errors.ts';
import type {
  ExecutionFiles,
  ExecutionModel,
  ExecutionRunner,
  FileMeta,
  RunContext,
  RunResult,
} from '../../src/core/execution-contracts.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { adminClient, createKey, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * The seam media runners plug into (contracts.ts; wired by the composition root through
 * `RuntimeOptions.executions`): a runner of kind `image` with its slug resolver, and a file store. The worker
 * resolves the slug to the runner, validates and bounds the input through it (the hold), hands it the tenant's
 * file store, and stores what it returns: file ids, usage, cost. The runner and store here are the test's own,
 * in memory; the real ones live in src/providers/media/ and src/files/.
 */
class MemoryFiles implements ExecutionFiles {
  readonly files = new Map<string, { meta: FileMeta; bytes: Uint8Array }>();
  async put(
    tenantId: string,
    file: { bytes: Uint8Array; contentType: string; purpose: string; filename?: string },
  ): Promise<FileMeta> {
    const meta: FileMeta = {
      id: `file_${crypto.randomUUID()}`,
      tenantId,
      bytes: file.bytes.length,
      contentType: file.contentType,
      purpose: file.purpose,
      filename: file.filename ?? null,
      createdAt: Date.now(),
      expiresAt: null,
    };
    this.files.set(meta.id, { meta, bytes: file.bytes });
    return meta;
  }
  async read(tenantId: string, id: string) {
    const f = this.files.get(id);
    return f && f.meta.tenantId === tenantId ? f : undefined;
  }
}

const PRICE_PER_IMAGE = 40_000_000; // $0.04

class PictureRunner implements ExecutionRunner {
  readonly kinds = ['image'] as const;
  readonly seen: Array<{ model: string; attempt: number; tenantId: string }> = [];
  validate(_model: ExecutionModel, input: unknown): void {
    const i = input as { prompt?: unknown; n?: unknown };
    if (typeof i?.prompt !== 'string' || i.prompt.length === 0) {
      throw new GatewayError('invalid_request', 'input.prompt must be a non-empty string', { param: 'input.prompt' });
    }
    if (i.n !== undefined && (typeof i.n !== 'number' || i.n < 1 || i.n > 4)) {
      throw new GatewayError('invalid_request', 'input.n must be 1 to 4', { param: 'input.n' });
    }
  }
  estimateNanoUsd(_model: ExecutionModel, input: unknown): number {
    return ((input as { n?: number }).n ?? 1) * PRICE_PER_IMAGE;
  }
  async run(model: ExecutionModel, input: unknown, ctx: RunContext): Promise<RunResult> {
    this.seen.push({ model: model.id, attempt: ctx.attempt, tenantId: ctx.tenantId });
    const n = (input as { n?: number }).n ?? 1;
    const files: string[] = [];
    for (let i = 0; i < n; i++) {
      const meta = await ctx.files.put(ctx.tenantId, {
        bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47, i]),
        contentType: 'image/png',
        purpose: 'output',
      });
      files.push(meta.id);
    }
    return { output: { files }, usage: { images: n }, costNanoUsd: n * PRICE_PER_IMAGE, servedBy: model.id };
  }
}

describe('executions: a media runner and a file store plugged in by the composition root', () => {
  let gw: TestGateway;
  const files = new MemoryFiles();
  const runner = new PictureRunner();
  before(async () => {
    gw = await startTenancyGateway(
      { billing: { flushIntervalMs: 20 } },
      {},
      {
        executions: {
          files,
          runners: [
            { runner, resolve: (slug) => (slug === 'pictures/sketch-1' ? { id: slug, kind: 'image' } : undefined) },
          ],
        },
      },
    );
  });
  after(async () => {
    await gw?.close();
  });

  test('resolved, validated, held, run with the tenant file store; files, usage and cost on the execution', async () => {
    const admin = await adminClient(gw);
    await admin.json('POST', '/admin/api/tenants', { id: 'artist' });
    await admin.json('POST', '/admin/api/tenants/artist/account');
    await admin.json('POST', '/admin/api/tenants/artist/ledger', { kind: 'credit', amountUsd: '1', reason: 'test' });
    const key = (await createKey(admin, 'artist')).key;
    const post = (body: unknown) =>
      fetch(`${gw.url}/v1/executions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const bad = await post({ model: 'pictures/sketch-1', input: { n: 2 } });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { param: string } }).error.param, 'input.prompt');
    const res = await post({ model: 'pictures/sketch-1', input: { prompt: 'a lighthouse', n: 3 } });
    assert.equal(res.status, 202);
    const submitted = (await res.json()) as { id: string; kind: string; estimated_cost: string };
    assert.equal(submitted.kind, 'image');
    assert.equal(submitted.estimated_cost, '0.120000000');
    let e: { status: string; output: { files: string[] }; usage: { images: number }; cost: string };
    const deadline = Date.now() + 5_000;
    do {
      await sleep(20);
      e = (await (
        await fetch(`${gw.url}/v1/executions/${submitted.id}`, { headers: { authorization: `Bearer ${key}` } })
      ).json()) as typeof e;
    } while (e.status !== 'COMPLETED' && e.status !== 'FAILED' && Date.now() < deadline);
    assert.equal(e.status, 'COMPLETED', JSON.stringify(e));
    assert.equal(e.output.files.length, 3);
    for (const id of e.output.files) assert.ok(await files.read('artist', id), `${id} is the tenant's`);
    assert.deepEqual(e.usage, { images: 3 });
    assert.equal(e.cost, '0.120000000');
    assert.deepEqual(runner.seen, [{ model: 'pictures/sketch-1', attempt: 1, tenantId: 'artist' }]);
    await gw.runtime.ledger.flush();
    assert.equal(gw.runtime.ledger.account('artist')!.balanceNano, 1_000_000_000 - 120_000_000);
  });
});
