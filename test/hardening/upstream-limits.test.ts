import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import { createParser } from 'eventsource-parser';
import { mockProvider, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * What an upstream may send (issue 16, "an upstream can exhaust memory"; and the SSE findings): caps on one
 * event, one stream and one non-streamed body, refused as the bytes arrive, failing over before the client's
 * first byte and ending its stream with an error event after; frames of several `data:` lines passed on
 * intact; unknown SSE fields ignored; a stream with an unfinished choice never ends in `[DONE]`.
 *
 * The misbehaving upstream is a raw node:http server each test scripts (a protocol-faithful mock cannot send
 * a 64 MiB event or a broken frame); `backup` is the faithful OpenAI mock the gateway fails over to.
 */

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

interface RawUpstream {
  url: string;
  requests: number;
  handle(handler: Handler): void;
  close(): Promise<void>;
}

async function startRawUpstream(): Promise<RawUpstream> {
  let handler: Handler = (_req, res) => void res.writeHead(500).end();
  const raw: RawUpstream = {
    url: '',
    requests: 0,
    handle(next) {
      handler = next;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req, res) => {
    raw.requests++;
    // The gateway hangs up on an oversized answer: later writes fail, and that is expected.
    res.on('error', () => {});
    req.resume();
    req.once('end', () => void handler(req, res));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  raw.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return raw;
}

/** Writes with backpressure; false once the gateway has hung up. */
async function send(res: ServerResponse, data: string | Uint8Array): Promise<boolean> {
  if (res.destroyed) return false;
  if (!res.write(data)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }
  return !res.destroyed;
}

// Words, not one long run: whatever reaches the gateway's token counting must be quick to count.
const FILLER = Buffer.from('word '.repeat((256 * 1024) / 4).slice(0, 256 * 1024));

/** `bytes` of words (no line break), written piece by piece as a real upstream would; false if cut off. */
async function pour(res: ServerResponse, bytes: number): Promise<boolean> {
  for (let sent = 0; sent < bytes; sent += FILLER.length) {
    if (!(await send(res, FILLER.subarray(0, Math.min(FILLER.length, bytes - sent))))) return false;
  }
  return true;
}

function startSSE(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
}

const CHUNK_HEAD = '{"id":"chatcmpl-raw","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":';

/** One `chat.completion.chunk` frame. */
function chunk(delta: Record<string, unknown>, finish: string | null = null, index = 0): string {
  return `data: ${CHUNK_HEAD}${JSON.stringify([{ index, delta, finish_reason: finish }])}}\n\n`;
}

/** An OpenAI stream whose second frame carries `bytes` of content in one event, then finishes normally. */
async function openAIWithBigEvent(res: ServerResponse, bytes: number, before: string[] = []): Promise<void> {
  startSSE(res);
  for (const frame of before) if (!(await send(res, frame))) return;
  if (!(await send(res, `data: ${CHUNK_HEAD}[{"index":0,"delta":{"content":"`))) return;
  if (!(await pour(res, bytes))) return;
  if (!(await send(res, '"},"finish_reason":null}]}\n\n'))) return;
  res.end(`${chunk({}, 'stop')}data: [DONE]\n\n`);
}

function anthropicEvent(type: string, body: Record<string, unknown> = {}): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...body })}\n\n`;
}

const MESSAGE_START = anthropicEvent('message_start', {
  message: {
    id: 'msg_raw',
    type: 'message',
    role: 'assistant',
    model: 'claude-haiku-4-5',
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 5, output_tokens: 1 },
  },
});
const BLOCK_START = anthropicEvent('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
const textDelta = (text: string) =>
  anthropicEvent('content_block_delta', { index: 0, delta: { type: 'text_delta', text } });
const MESSAGE_END =
  anthropicEvent('content_block_stop', { index: 0 }) +
  anthropicEvent('message_delta', {
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: 2 },
  }) +
  anthropicEvent('message_stop');

interface ClientEvent {
  event: string | undefined;
  data: string;
}

/** The client's view of a stream, parsed as a spec-compliant SSE client would; `broken` lists what it could not parse. */
async function clientEvents(res: Response): Promise<{ events: ClientEvent[]; broken: string[] }> {
  const events: ClientEvent[] = [];
  const broken: string[] = [];
  const parser = createParser({
    onEvent: (message) => events.push({ event: message.event, data: message.data }),
    onError: (error) => broken.push(error.message),
  });
  parser.feed(await res.text());
  for (const { data } of events) {
    if (data === '[DONE]') continue;
    try {
      JSON.parse(data);
    } catch {
      broken.push(`not JSON: ${data.slice(0, 80)}`);
    }
  }
  return { events, broken };
}

function contentOf(events: ClientEvent[]): string {
  let text = '';
  for (const { data } of events) {
    if (data === '[DONE]') continue;
    const json = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string } }> };
    for (const choice of json.choices ?? []) text += choice.delta?.content ?? '';
  }
  return text;
}

/** The error event a chat stream ended with, asserting that it did end with one and no `[DONE]`. */
function endingError(events: ClientEvent[]): { code: string; message: string } {
  assert.ok(!events.some((e) => e.data === '[DONE]'), 'the stream must not end with [DONE]');
  const last = JSON.parse(events.at(-1)!.data) as { error?: { code: string; message: string } };
  assert.ok(last.error, `the last event is an error event, got ${events.at(-1)!.data.slice(0, 120)}`);
  return last.error;
}

const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] };
const KIB = 1024;

describe('upstream caps (small caps: event 64 KiB, stream 1 MiB, body 256 KiB)', () => {
  let raw: RawUpstream;
  let backup: MockOpenAI;
  let gw: TestGateway;

  before(async () => {
    raw = await startRawUpstream();
    backup = await startMockOpenAI();
    const timeouts = { connectMs: 2_000, firstByteMs: 5_000, totalMs: 20_000 };
    gw = await startGateway({
      limits: { upstream: { maxEventBytes: 64 * KIB, maxStreamBytes: 1024 * KIB, maxBodyBytes: 256 * KIB } },
      providers: [
        // `raw` is cheaper, so it is tried first for gpt-4o-mini; `backup` serves the same model.
        mockProvider(
          'raw',
          `${raw.url}/v1`,
          [{ name: 'gpt-4o-mini', qualityRank: 70, price: { input: 0.1, output: 0.2 } }],
          {
            timeouts,
          },
        ),
        mockProvider('backup', backup.url, [{ name: 'gpt-4o-mini', qualityRank: 70, price: { input: 1, output: 2 } }]),
        mockProvider('rawanthropic', raw.url, [{ name: 'claude-haiku-4-5', qualityRank: 40 }], {
          kind: 'anthropic',
          keys: ['sk-ant-raw-upstream-key'],
          timeouts,
        }),
        mockProvider('rawbedrock', raw.url, [{ name: 'anthropic.claude-3-haiku-20240307-v1:0', qualityRank: 40 }], {
          kind: 'bedrock',
          keys: [{ key: 'AKIARAWUPSTREAM', secretAccessKey: 'raw-upstream-secret' }],
          options: { region: 'us-east-1' },
          timeouts,
        }),
      ],
      // Failures here are the point of the tests: no circuit may open and hide the next test's upstream.
      health: { failureThreshold: 1_000 },
    });
  });
  afterEach(() => {
    gw.runtime.health.reset();
    backup.reset();
  });
  after(async () => {
    await gw.close();
    await raw.close();
    await backup.close();
  });

  const chatStream = () => gw.post('/v1/chat/completions', { ...CHAT, stream: true });
  const messagesStream = (body: Record<string, unknown> = {}) =>
    gw.post(
      '/v1/messages',
      {
        model: 'rawanthropic/claude-haiku-4-5',
        max_tokens: 100,
        stream: true,
        messages: [{ role: 'user', content: 'hello' }],
        ...body,
      },
      { 'anthropic-version': '2023-06-01' },
    );

  test('an oversized event before the first byte fails over to the next provider', async () => {
    raw.handle((_req, res) => openAIWithBigEvent(res, 256 * KIB));
    const res = await chatStream();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-model-router-provider'), 'backup');
    assert.equal(res.headers.get('x-model-router-attempts'), '2');
    const { events, broken } = await clientEvents(res);
    assert.deepEqual(broken, []);
    assert.equal(events.at(-1)?.data, '[DONE]');
    assert.equal(backup.requests.length, 1);
  });

  test('an oversized event after the first byte ends the chat stream with an error event', async () => {
    raw.handle((_req, res) => openAIWithBigEvent(res, 256 * KIB, [chunk({ role: 'assistant', content: 'Hello' })]));
    const res = await chatStream();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-model-router-provider'), 'raw');
    const { events } = await clientEvents(res);
    const content = contentOf(events.slice(0, -1));
    assert.ok(
      content === 'Hello',
      `only what came before the oversized event reached the client (${content.length} chars)`,
    );
    const error = endingError(events);
    assert.equal(error.code, 'provider_unavailable');
    assert.match(error.message, /event larger than 65536 bytes/);
  });

  test('an oversized event after the first byte ends the /v1/messages stream with an error event', async () => {
    raw.handle(async (_req, res) => {
      startSSE(res);
      if (!(await send(res, MESSAGE_START + BLOCK_START + textDelta('Hello')))) return;
      const head = JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: '' } });
      if (!(await send(res, `event: content_block_delta\ndata: ${head.slice(0, -3)}`))) return;
      if (!(await pour(res, 256 * KIB))) return;
      res.end(`"}}\n\n${MESSAGE_END}`);
    });
    const res = await messagesStream();
    assert.equal(res.status, 200);
    const { events, broken } = await clientEvents(res);
    assert.deepEqual(broken, []);
    const names = events.map((e) => e.event);
    assert.deepEqual(names.slice(0, 3), ['message_start', 'content_block_start', 'content_block_delta']);
    assert.ok(!names.includes('message_stop'), 'the stream must not end as if complete');
    assert.equal(names.at(-1), 'error');
    const error = JSON.parse(events.at(-1)!.data) as { type: string; error: { type: string; message: string } };
    assert.equal(error.error.type, 'overloaded_error', "provider_unavailable in Anthropic's envelope");
    assert.match(error.error.message, /event larger than 65536 bytes/);
  });

  test('a stream larger than maxStreamBytes: failover before the first byte, an error event after it', async () => {
    // Before any event: 1.2 MiB of comment lines (each small, so only the stream total can stop them).
    raw.handle(async (_req, res) => {
      startSSE(res);
      const comment = `: ${'word '.repeat(200)}\n`;
      for (let i = 0; i < 1_200; i++) if (!(await send(res, comment))) return;
      res.end(`${chunk({ role: 'assistant', content: 'late' }, 'stop')}data: [DONE]\n\n`);
    });
    const before = await chatStream();
    assert.equal(before.status, 200);
    assert.equal(before.headers.get('x-model-router-provider'), 'backup');
    assert.equal((await clientEvents(before)).events.at(-1)?.data, '[DONE]');

    // After the first event: twenty 60 KiB events, each under the event cap, 1.2 MiB together.
    raw.handle(async (_req, res) => {
      startSSE(res);
      if (!(await send(res, chunk({ role: 'assistant', content: 'Hello' })))) return;
      const piece = chunk({ content: 'word '.repeat((60 * KIB) / 5) });
      for (let i = 0; i < 20; i++) if (!(await send(res, piece))) return;
      res.end(`${chunk({}, 'stop')}data: [DONE]\n\n`);
    });
    const after = await chatStream();
    assert.equal(after.headers.get('x-model-router-provider'), 'raw');
    const { events } = await clientEvents(after);
    assert.ok(contentOf(events.slice(0, -1)).startsWith('Hello'));
    const error = endingError(events);
    assert.equal(error.code, 'provider_unavailable');
    assert.match(error.message, /stream larger than 1048576 bytes/);
  });

  test('a non-streamed body larger than maxBodyBytes fails over to the next provider', async () => {
    raw.handle((_req, res) => {
      const body = JSON.stringify({
        id: 'chatcmpl-raw',
        object: 'chat.completion',
        created: 1,
        model: 'gpt-4o-mini',
        choices: [
          { index: 0, message: { role: 'assistant', content: 'word '.repeat((300 * KIB) / 5) }, finish_reason: 'stop' },
        ],
        usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    const res = await gw.post('/v1/chat/completions', CHAT);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-model-router-provider'), 'backup');
    assert.equal(res.headers.get('x-model-router-attempts'), '2');
    const json = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    assert.ok(json.choices[0]!.message.content.length < 300 * KIB);
  });

  test('a Bedrock event-stream frame declaring a length over maxEventBytes is refused at once', async () => {
    for (const declared of [1024 * 1024, 0xffff_fff0]) {
      raw.handle((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
        // The prelude (total length, headers length, prelude CRC), then silence: the frame never comes.
        const prelude = Buffer.alloc(12);
        prelude.writeUInt32BE(declared, 0);
        res.write(prelude);
      });
      const started = performance.now();
      const res = await gw.post('/v1/chat/completions', {
        model: 'rawbedrock/anthropic.claude-3-haiku-20240307-v1:0',
        stream: true,
        messages: [{ role: 'user', content: 'hello' }],
      });
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(res.status, 503, `declared ${declared}: ${JSON.stringify(body)}`);
      assert.equal(body.error.code, 'provider_unavailable');
      assert.match(body.error.message, /event larger than 65536 bytes/);
      // Not by waiting out the provider's 5 s first-byte timeout.
      assert.ok(performance.now() - started < 4_000, 'refused without waiting for the frame');
    }
  });

  test('an event of several data: lines reaches the client as one well-formed event, on both endpoints', async () => {
    raw.handle((_req, res) => {
      startSSE(res);
      res.end(
        `data: ${CHUNK_HEAD}\ndata: [{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}\n\n` +
          `${chunk({ content: ' there' })}${chunk({}, 'stop')}data: [DONE]\n\n`,
      );
    });
    const chat = await clientEvents(await chatStream());
    assert.deepEqual(chat.broken, []);
    assert.equal(contentOf(chat.events), 'Hi there');
    assert.equal(chat.events.at(-1)?.data, '[DONE]');

    raw.handle((_req, res) => {
      startSSE(res);
      const delta = JSON.stringify({
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: 'Hi' },
      });
      res.end(
        `${MESSAGE_START}${BLOCK_START}event: content_block_delta\ndata: ${delta.slice(0, 30)}\ndata: ${delta.slice(30)}\n\n` +
          MESSAGE_END,
      );
    });
    const messages = await clientEvents(await messagesStream());
    assert.deepEqual(messages.broken, []);
    const delta = messages.events.find((e) => e.event === 'content_block_delta');
    assert.equal((JSON.parse(delta!.data) as { delta: { text: string } }).delta.text, 'Hi');
    assert.equal(messages.events.at(-1)?.event, 'message_stop');
  });

  test('unknown SSE fields and a bad retry value are ignored, as the SSE specification says', async () => {
    raw.handle((_req, res) => {
      startSSE(res);
      res.end(
        `id: 1\nx-trace: abc\nretry: soon\n${chunk({ role: 'assistant', content: 'Hi' })}` +
          `vendor-field\n${chunk({}, 'stop')}data: [DONE]\n\n`,
      );
    });
    const res = await chatStream();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-model-router-provider'), 'raw');
    const { events, broken } = await clientEvents(res);
    assert.deepEqual(broken, []);
    assert.equal(contentOf(events), 'Hi');
    assert.equal(events.at(-1)?.data, '[DONE]');
  });

  test('n=2 with a choice that never finishes ends with an error event, never [DONE]', async () => {
    for (const done of ['data: [DONE]\n\n', '']) {
      raw.handle((_req, res) => {
        startSSE(res);
        res.end(
          chunk({ role: 'assistant', content: 'A' }, null, 0) +
            chunk({ role: 'assistant', content: 'B' }, null, 1) +
            chunk({}, 'stop', 0) +
            done,
        );
      });
      const res = await gw.post('/v1/chat/completions', { ...CHAT, n: 2, stream: true });
      assert.equal(res.headers.get('x-model-router-provider'), 'raw');
      const { events } = await clientEvents(res);
      const error = endingError(events);
      assert.equal(error.code, 'provider_unavailable', done ? 'with [DONE]' : 'without [DONE]');
    }
    // Both choices finished: a complete answer.
    raw.handle((_req, res) => {
      startSSE(res);
      res.end(
        chunk({ role: 'assistant', content: 'A' }, null, 0) +
          chunk({ role: 'assistant', content: 'B' }, null, 1) +
          chunk({}, 'stop', 0) +
          chunk({}, 'length', 1) +
          'data: [DONE]\n\n',
      );
    });
    const { events } = await clientEvents(await gw.post('/v1/chat/completions', { ...CHAT, n: 2, stream: true }));
    assert.equal(events.at(-1)?.data, '[DONE]');
  });
});

describe('upstream caps at their defaults', () => {
  test('ten concurrent 64 MiB events without a line break: errors, the process stays up, memory bounded', async (t) => {
    const raw = await startRawUpstream();
    const gw = await startGateway({
      providers: [
        // Patient timeouts: without its caps the gateway would read each event whole before giving up.
        mockProvider('raw', `${raw.url}/v1`, [{ name: 'gpt-4o-mini', qualityRank: 70 }], {
          timeouts: { connectMs: 2_000, firstByteMs: 60_000, totalMs: 120_000 },
        }),
      ],
      health: { failureThreshold: 1_000 },
    });
    raw.handle((_req, res) => openAIWithBigEvent(res, 64 * 1024 * KIB));
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 10);
    try {
      const answers = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const res = await gw.post('/v1/chat/completions', { ...CHAT, stream: true });
          return { status: res.status, text: await res.text() };
        }),
      );
      peak = Math.max(peak, process.memoryUsage.rss());
      const growthMB = (peak - baseline) / 1024 / 1024;
      t.diagnostic(`peak RSS growth ${growthMB.toFixed(0)} MB (baseline ${(baseline / 1024 / 1024).toFixed(0)} MB)`);
      // Held whole, the events would take 10 x 64 MiB at least twice over (parser buffer and joined string).
      assert.ok(growthMB < 400, `RSS grew by ${growthMB.toFixed(0)} MB`);
      assert.equal(raw.requests, 10, 'every request reached the upstream');
      for (const { status, text } of answers) {
        assert.equal(status, 503);
        const body = JSON.parse(text) as { error: { code: string; message: string } };
        assert.equal(body.error.code, 'provider_unavailable');
        assert.match(body.error.message, /event larger than 8388608 bytes/);
      }
      assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    } finally {
      clearInterval(sampler);
      await gw.close();
      await raw.close();
    }
  });
});
