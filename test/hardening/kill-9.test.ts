import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs, { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { mockProvider, startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { type MockAnthropic, startMockAnthropic } from '../mocks/anthropic.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { journaledRequestIds } from '../store/support.ts';

/**
 * Issue 16: `kill -9` under load. Every response whose last byte reached its client must have a usage record
 * once the gateway has been restarted on the same data folder. The gateway runs as users run it from
 * sources (`node src/cli/main.ts start --config …`), in its own process, with its default usage settings;
 * the mock upstream runs in the test process.
 */
const ROOT = new URL('../..', import.meta.url).pathname;
const API_KEY = 'kill-9-test-key';
const CONCURRENCY = 32;
/** The kill comes once this many responses were read completely, with CONCURRENCY requests still in flight. */
const KILL_AFTER = 600;

interface GatewayProcess {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

async function startGatewayProcess(configPath: string): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['src/cli/main.ts', 'start', '--config', configPath], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MODRO_API_KEY: '' },
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + 60_000;
  while (!/listening on (http:\/\/\S+)/.test(out)) {
    assert.ok(child.exitCode === null && child.signalCode === null, `gateway exited early: ${out}`);
    assert.ok(Date.now() < deadline, `gateway did not start: ${out}`);
    await sleep(25);
  }
  return { child, url: /listening on (http:\/\/\S+)/.exec(out)![1]!, exited, output: () => out };
}

describe('kill -9 under load', () => {
  let mock: MockOpenAI;
  let dir: string;
  const children: ChildProcess[] = [];

  before(async () => {
    mock = await startMockOpenAI({ chunkDelayMs: 1 });
    dir = mkdtempSync(join(tmpdir(), 'modro-kill9-'));
  });
  after(async () => {
    // Only the processes this test started, by their own handle.
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await mock.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every response read to its last byte has a usage record after a restart', async (t) => {
    const dbPath = join(dir, 'modro.db');
    const configPath = join(dir, 'modro.yaml');
    writeFileSync(
      configPath,
      JSON.stringify({
        server: { port: 0 },
        storage: { kind: 'sqlite', path: dbPath },
        auth: { keys: [{ id: 'k', key: API_KEY }] },
        logging: { level: 'warn' },
        providers: [mockProvider('up', mock.url, [{ name: 'gpt-4o-mini', qualityRank: 70 }])],
      }),
    );
    const first = await startGatewayProcess(configPath);
    children.push(first.child);
    const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };

    const completed: string[] = [];
    let cut = 0;
    let killed = false;
    let sequence = 0;
    const worker = async () => {
      while (!killed) {
        const i = sequence++;
        const stream = i % 2 === 1;
        try {
          const res = await fetch(`${first.url}/v1/chat/completions`, {
            method: 'POST',
            headers,
            body: JSON.stringify({
              model: 'fast',
              stream,
              messages: [{ role: 'user', content: `request ${i}: a few words for the upstream to echo back` }],
            }),
          });
          const text = await res.text();
          const requestId = res.headers.get('x-request-id');
          assert.ok(requestId, `response ${i} carries x-request-id`);
          assert.equal(res.status, 200, text.slice(0, 300));
          if (stream) assert.ok(text.endsWith('data: [DONE]\n\n'), `stream ${i} read to its end`);
          completed.push(requestId);
        } catch (err) {
          if (!killed) throw err;
          cut++;
        }
        if (!killed && completed.length >= KILL_AFTER) {
          killed = true;
          first.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    assert.equal((await first.exited).signal, 'SIGKILL');
    assert.ok(cut > 0, 'the kill came while requests were in flight');

    // The same data folder: the restart imports what the killed process left, before it listens.
    const second = await startGatewayProcess(configPath);
    children.push(second.child);
    second.child.kill('SIGTERM');
    assert.equal((await second.exited).code, 0, second.output());

    const db = new DatabaseSync(dbPath, { readOnly: true });
    let stored: Set<string>;
    try {
      stored = new Set(
        (db.prepare('select request_id from usage_record').all() as Array<{ request_id: string }>).map(
          (row) => row.request_id,
        ),
      );
    } finally {
      db.close();
    }
    const lost = completed.filter((id) => !stored.has(id));
    t.diagnostic(`${completed.length} responses completed, ${cut} cut by the kill, ${lost.length} without a record`);
    assert.equal(lost.length, 0, `${lost.length} of ${completed.length} completed responses have no usage record`);
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.startsWith('usage-journal-')),
      [],
      'a clean restart and stop leave no journal segment behind',
    );
  });
});

/**
 * The reason the test above passes, path by path: every response, success or error, streamed or not, on both
 * endpoints, waits for its record to be in the journal before its last byte. So when a client has read a
 * response to its end, the journal already holds the record. The batched database write is held back here,
 * so the journal's segments keep every record, and every file write of this process (the in-process gateway's
 * journal) is slowed down, so a response that did not wait would be read before its record is written.
 */
describe('every response waits for its record to be journaled', () => {
  let openai: MockOpenAI;
  let anthropic: MockAnthropic;
  let gw: TestGateway;
  let restoreWrites: () => void;

  before(async () => {
    restoreWrites = await slowFileWrites(30);
    openai = await startMockOpenAI();
    anthropic = await startMockAnthropic();
    gw = await startGateway({
      usage: { flushIntervalMs: 3_600_000 },
      providers: [
        mockProvider('up', openai.url, [{ name: 'gpt-4o-mini', qualityRank: 70 }]),
        {
          id: 'anthropic',
          kind: 'anthropic',
          baseUrl: anthropic.url,
          keys: [anthropic.apiKey],
          models: [{ name: 'claude-haiku-4-5', qualityRank: 60 }],
        },
      ],
    });
  });
  after(async () => {
    restoreWrites();
    await gw.close();
    await openai.close();
    await anthropic.close();
  });

  /** Sends a request, reads its response to the end, and says whether the journal held its record by then. */
  async function send(
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; text: string; journaled: boolean }> {
    const res = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TEST_API_KEY}`,
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    // Anthropic's envelope names it request-id.
    const requestId = res.headers.get('x-request-id') ?? res.headers.get('request-id');
    assert.ok(requestId, `${path} ${res.status} carries its request id: ${text.slice(0, 300)}`);
    return { status: res.status, text, journaled: journaledRequestIds(gw.dataDir).includes(requestId) };
  }

  const chat = (extra: Record<string, unknown> = {}) => ({
    model: 'up/gpt-4o-mini',
    messages: [{ role: 'user', content: 'a short answer, please' }],
    ...extra,
  });
  const message = (model: string, extra: Record<string, unknown> = {}) => ({
    model,
    max_tokens: 64,
    messages: [{ role: 'user', content: 'a short answer, please' }],
    ...extra,
  });

  test('chat completions: answer, stream, stream cut by the upstream, routed and early errors', async () => {
    const answer = await send('/v1/chat/completions', chat());
    assert.equal(answer.status, 200);
    assert.ok(answer.journaled, 'non-streamed answer');

    const stream = await send('/v1/chat/completions', chat({ stream: true, stream_options: { include_usage: true } }));
    assert.match(stream.text, /"usage"[\s\S]*data: \[DONE\]\n\n$/);
    assert.ok(stream.journaled, 'stream, before its usage chunk and [DONE]');

    openai.faults.push({ kind: 'reset-mid-stream', afterEvents: 2 });
    const cut = await send('/v1/chat/completions', chat({ stream: true }));
    assert.match(cut.text, /data: \{"error"/);
    assert.ok(cut.journaled, 'stream ended by an error event');

    openai.faults.push({ kind: 'status', status: 503 });
    const failed = await send('/v1/chat/completions', chat());
    assert.equal(failed.status, 503);
    assert.ok(failed.journaled, 'routed failure');

    const refused = await send('/v1/chat/completions', chat(), { authorization: 'Bearer wrong' });
    assert.equal(refused.status, 401);
    assert.ok(refused.journaled, 'refused before routing');

    const unparsable = await send('/v1/chat/completions', '{broken');
    assert.equal(unparsable.status, 400);
    assert.ok(unparsable.journaled, 'rejected by the body parser (error handler)');
  });

  test('messages: pass-through and translated, streamed or not, and errors', async () => {
    const native = await send('/v1/messages', message('anthropic/claude-haiku-4-5'));
    assert.equal(native.status, 200);
    assert.ok(native.journaled, 'pass-through answer');

    const nativeStream = await send('/v1/messages', message('anthropic/claude-haiku-4-5', { stream: true }));
    assert.match(nativeStream.text, /event: message_stop\ndata: [^\n]*\n\n$/);
    assert.ok(nativeStream.journaled, 'pass-through stream, before message_stop');

    const translated = await send('/v1/messages', message('up/gpt-4o-mini'));
    assert.equal(translated.status, 200);
    assert.ok(translated.journaled, 'translated answer');

    const translatedStream = await send('/v1/messages', message('up/gpt-4o-mini', { stream: true }));
    assert.match(translatedStream.text, /event: message_stop\ndata: [^\n]*\n\n$/);
    assert.ok(translatedStream.journaled, 'translated stream, before message_stop');

    openai.faults.push({ kind: 'status', status: 503 });
    const failed = await send('/v1/messages', message('up/gpt-4o-mini'));
    assert.equal(failed.status, 503);
    assert.ok(failed.journaled, 'routed failure');

    const refused = await send('/v1/messages', message('up/gpt-4o-mini'), { authorization: 'Bearer wrong' });
    assert.equal(refused.status, 401);
    assert.ok(refused.journaled, 'refused before routing');

    const unparsable = await send('/v1/messages', '{broken');
    assert.equal(unparsable.status, 400);
    assert.ok(unparsable.journaled, 'rejected by the body parser (error handler)');
  });
});

/** Delays every node:fs write of this process (patched on the module and pushed to the ESM named exports). */
async function slowFileWrites(ms: number): Promise<() => void> {
  const module = fs as unknown as { write: (...args: unknown[]) => void };
  const original = module.write;
  module.write = (...args: unknown[]) => {
    setTimeout(() => original.apply(fs, args), ms);
  };
  syncBuiltinESMExports();
  return () => {
    module.write = original;
    syncBuiltinESMExports();
  };
}
