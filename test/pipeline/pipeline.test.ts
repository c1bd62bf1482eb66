import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { GatewayError } from '../../src/core/errors.ts';
import type { ChatRequest, ChatResponse, StreamEvent } from '../../src/core/ir.ts';
import { type Caller, type RequestContext, startRequest } from '../../src/pipeline/context.ts';
import type { ProviderAdapter, UpstreamTarget } from '../../src/providers/types.ts';
import { createRuntime, type Runtime } from '../../src/server/runtime.ts';
import { findUsageRecord } from '../../src/store/usage-queries.ts';

/**
 * The pipeline's stages, driven directly (no HTTP) with scripted adapters: admission refuses before any
 * upstream call, failover returns its outcome as a value, a stream meters what it delivered when its client
 * leaves, count_tokens goes through admission, routing and failover too; every request leaves one record.
 */
type Script = (target: UpstreamTarget, request: ChatRequest) => 'ok' | GatewayError;

const calls: string[] = [];
let script: Script = () => 'ok';

function answer(target: UpstreamTarget): ChatResponse {
  return {
    id: 'r1',
    created: 1,
    model: target.model.upstreamName,
    choices: [{ index: 0, message: { content: 'hello from the script' }, finishReason: 'stop' }],
    usage: { inputTokens: 10, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 5, reasoningTokens: 0 },
  };
}

function scriptedAdapter(): ProviderAdapter {
  const run = (target: UpstreamTarget, request: ChatRequest) => {
    calls.push(target.provider.id);
    const result = script(target, request);
    if (result !== 'ok') throw result;
  };
  return {
    wire: 'scripted',
    async complete(request, target) {
      run(target, request);
      return answer(target);
    },
    async stream(request, target) {
      run(target, request);
      return (async function* (): AsyncGenerator<StreamEvent> {
        yield { type: 'start', id: 's1', model: target.model.upstreamName, created: 1 };
        for (let i = 0; i < 50; i++) yield { type: 'text', choice: 0, delta: `word${i} ` };
        yield { type: 'finish', choice: 0, reason: 'stop' };
      })();
    },
    async countTokens(request, target) {
      run(target, request);
      return 1234;
    },
  };
}

describe('the pipeline, stage by stage', () => {
  let dir: string;
  let runtime: Runtime;
  const caller: Caller = { tenantId: 'default', keyId: 'test', policy: {} };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'modro-pipeline-'));
    const models = (name: string) => [
      { name, qualityRank: 70, price: { input: 1, output: 2 }, contextWindow: 100_000 },
    ];
    const config = parseConfig(
      {
        storage: { kind: 'sqlite', path: join(dir, 'modro.db') },
        auth: { keys: [{ id: 'test', key: 'pipeline-test-key' }] },
        usage: { flushIntervalMs: 50 },
        providers: [
          { id: 'first', kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', keys: ['k1'], models: models('model-a') },
          { id: 'second', kind: 'anthropic', baseUrl: 'http://127.0.0.1:9', keys: ['k2'], models: models('model-b') },
        ],
        routing: { pin: { balanced: { fast: ['first/model-a', 'second/model-b'] } } },
      },
      {},
    );
    runtime = await createRuntime({
      config,
      env: {},
      logDestination: new Writable({ write: (_c, _e, cb) => cb() }),
      adapterFor: scriptedAdapter,
    });
  });
  after(async () => {
    await runtime.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    calls.length = 0;
    script = () => 'ok';
  });

  function context(request: Partial<ChatRequest>, who: Caller = caller): RequestContext {
    const { start } = startRequest('openai-chat');
    return {
      ...start,
      caller: who,
      request: {
        model: 'fast',
        messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
        stream: false,
        includeUsage: false,
        inbound: { protocol: 'openai-chat', body: {} },
        ...request,
      },
    };
  }
  async function recordOf(ctx: RequestContext) {
    await runtime.usage.flush();
    const record = await findUsageRecord(runtime.store.db, ctx.requestId);
    assert.ok(record, 'one usage record');
    return record;
  }

  test('admission refuses a model outside the caller’s list before any upstream call', async () => {
    const ctx = context({ model: 'second/model-b' }, { ...caller, policy: { allowedModels: ['first/model-a'] } });
    const handled = await runtime.pipeline.handle(ctx);
    assert.equal(handled.kind, 'error');
    assert.equal(handled.kind === 'error' && handled.error.code, 'not_found');
    assert.deepEqual(calls, [], 'no upstream was called');
    const record = await recordOf(ctx);
    assert.equal(record.status, 404);
    assert.equal(record.attempts, 0);
  });

  test('admission keeps a request that only some provider kinds serve on those providers, or refuses it', async () => {
    const requires = { providerKinds: ['anthropic'], features: ['server tools'] };
    const kept = await runtime.pipeline.handle(context({ requires }));
    assert.equal(kept.kind, 'completion');
    assert.deepEqual(calls, ['second'], 'only the Anthropic provider, although first comes first');
    calls.length = 0;
    const refused = await runtime.pipeline.handle(
      context({ requires }, { ...caller, policy: { providers: ['first'] } }),
    );
    assert.equal(refused.kind === 'error' && refused.error.code, 'invalid_request');
    assert.deepEqual(calls, []);
  });

  test('failover is an outcome: the second candidate answers, with the attempts and target it took', async () => {
    script = (target) =>
      target.provider.id === 'first' ? new GatewayError('provider_unavailable', 'first is down') : 'ok';
    const ctx = context({});
    const handled = await runtime.pipeline.handle(ctx);
    assert.equal(handled.kind, 'completion');
    if (handled.kind !== 'completion') return;
    assert.equal(handled.served.attempts, 2);
    assert.equal(handled.served.target.provider.id, 'second');
    assert.equal(handled.costNano, 10 * 1_000 + 5 * 2_000);
    assert.equal(handled.headers['x-model-router-attempts'], '2');
    const record = await recordOf(ctx);
    assert.equal(record.providerId, 'second');
    assert.equal(record.costNanoUsd, handled.costNano);
  });

  test('when every candidate fails, the failure is a value with what was tried, and is recorded', async () => {
    script = () => new GatewayError('provider_unavailable', 'all down');
    const ctx = context({});
    const handled = await runtime.pipeline.handle(ctx);
    assert.equal(handled.kind, 'error');
    if (handled.kind !== 'error') return;
    assert.equal(handled.error.code, 'provider_unavailable');
    assert.match(handled.error.message, /All 2 attempts failed/);
    const record = await recordOf(ctx);
    assert.equal(record.status, 503);
    assert.equal(record.attempts, 2);
    assert.equal(record.providerId, 'second', 'the last target tried');
  });

  test('a stream whose client leaves is metered on what it delivered and recorded as 499', async () => {
    const ctx = context({ stream: true });
    const handled = await runtime.pipeline.handle(ctx);
    assert.equal(handled.kind, 'stream');
    if (handled.kind !== 'stream') return;
    let texts = 0;
    for await (const frame of handled.stream.frames()) {
      if ((frame as StreamEvent).type === 'text' && ++texts === 10) break;
    }
    const end = await handled.stream.finish({ clientGone: true });
    assert.equal(end.error, undefined);
    assert.ok(end.usage.outputTokens >= 10 && end.usage.outputTokens < 50, `metered ${end.usage.outputTokens}`);
    const record = await recordOf(ctx);
    assert.equal(record.status, 499);
    assert.equal(record.outputTokens, end.usage.outputTokens);
    assert.equal(record.costNanoUsd, end.costNano);
  });

  test('count_tokens asks the provider that counts, with failover, and falls back to a local count', async () => {
    const requires = { providerKinds: ['anthropic'], features: ['documents'] };
    const counted = await runtime.pipeline.countTokens(context({ requires }));
    assert.equal(counted.kind === 'count' && counted.inputTokens, 1234);
    assert.deepEqual(calls, ['second']);
    script = () => new GatewayError('rate_limited', 'slow down');
    const ctx = context({ requires });
    const local = await runtime.pipeline.countTokens(ctx);
    assert.equal(local.kind, 'count');
    assert.ok(local.kind === 'count' && local.inputTokens > 0 && local.inputTokens < 100, 'the local count');
    const record = await recordOf(ctx);
    assert.equal(record.status, 200);
    assert.equal(record.costNanoUsd, 0);
  });
});
