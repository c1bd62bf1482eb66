import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type Fault, FaultQueue, sleep } from './faults.ts';

/**
 * A mock of the Anthropic Messages API on 127.0.0.1, speaking the real wire format: the key in `x-api-key`
 * or as a Bearer token, `anthropic-version` required (2023-06-01 or 2026-10-21, with the latter's stricter
 * request rules), Anthropic's error envelope per status, SSE with `event:` lines, `ping`s,
 * cumulative usage in `message_delta`, cache usage when the request carries `cache_control`.
 * Replies are synthesized deterministically from the request (text, thinking, parallel tool calls, JSON for
 * `output_config.format`, refusals, stop sequences, max_tokens truncation), or replayed from the recorded
 * samples in test/fixtures/wire/anthropic (framed as SSE the way Anthropic frames them), or scripted by
 * the test. The official `@anthropic-ai/sdk` is run against it in test/providers/anthropic/mock.test.ts,
 * so it cannot drift from the protocol.
 * @see https://platform.claude.com/docs/en/api/messages
 * @see https://platform.claude.com/docs/en/build-with-claude/streaming
 * @see https://platform.claude.com/docs/en/api/errors
 * @see https://platform.claude.com/docs/en/api/versioning
 */

type Json = Record<string, unknown>;

export const ANTHROPIC_FIXTURES_DIR = join(import.meta.dirname, '..', 'fixtures', 'wire', 'anthropic');

export interface MockAnthropicOptions {
  apiKey?: string;
  faults?: FaultQueue;
  /** A tool call is made when tools are given and the last user text contains this. */
  toolTrigger?: string;
  /** A refusal is returned when the last user text contains this. */
  refusalTrigger?: string;
  /** Retry-After seconds on the default 429 and 529 answers. */
  retryAfterSeconds?: number;
  /** Served by `GET /v1/models` (newest first, as Anthropic lists them). Default: MOCK_ANTHROPIC_MODELS. */
  models?: string[];
}

export const MOCK_ANTHROPIC_MODELS = ['claude-opus-4-7', 'claude-sonnet-4-5', 'claude-haiku-4-5'];

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (undefined when not JSON). */
  body: Json | undefined;
  raw: string;
}

/** A scripted answer for the next request. */
export type MockReply =
  /** Stream these event payloads (each framed with `event: <type>`), then end. */
  | { kind: 'events'; events: Json[] }
  /** Answer with this status and JSON body. */
  | { kind: 'json'; status?: number; body: unknown; headers?: Record<string, string> }
  /** Answer with this raw text. */
  | { kind: 'raw'; status?: number; body: string; contentType?: string };

export interface MockAnthropic {
  /** Base URL without `/v1`, as the SDK's `baseURL` and the provider's `baseUrl` take it. */
  url: string;
  apiKey: string;
  faults: FaultQueue;
  requests: RecordedRequest[];
  /** Answer the next Messages request with a recorded sample: `name.chunks.txt` if it streams, else `name.json`. */
  replay(name: string): void;
  /** Answer the next Messages request with this reply. */
  enqueue(reply: MockReply): void;
  /** What `GET /v1/models` lists; change it between requests. */
  models: string[];
  close(): Promise<void>;
}

// ---------- recorded samples ----------

export function fixtureEvents(name: string): Json[] {
  const text = readFileSync(join(ANTHROPIC_FIXTURES_DIR, `${name}.chunks.txt`), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Json);
}

export function fixtureJSON(name: string): string {
  return readFileSync(join(ANTHROPIC_FIXTURES_DIR, `${name}.json`), 'utf8');
}

/** One event as Anthropic frames it on the wire. */
export function sseFrame(event: Json): string {
  return `event: ${String(event['type'])}\ndata: ${JSON.stringify(event)}\n\n`;
}

// ---------- error bodies ----------

const ERROR_TYPES: Record<number, [string, string]> = {
  400: ['invalid_request_error', 'Invalid request'],
  401: ['authentication_error', 'invalid x-api-key'],
  402: ['billing_error', 'Your credit balance is too low to access the Anthropic API.'],
  403: ['permission_error', 'Your API key does not have permission to use the specified resource.'],
  404: ['not_found_error', 'Not found'],
  413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
  429: ['rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit'],
  500: ['api_error', 'Internal server error'],
  504: ['timeout_error', 'Request timed out'],
  529: ['overloaded_error', 'Overloaded'],
};

/** The Messages API versions; 2026-10-21 is what the official SDKs send since their 2026-10-21 majors. */
export const API_VERSIONS = ['2023-06-01', '2026-10-21'];

let requestCounter = 0;

function requestId(): string {
  requestCounter++;
  return `req_mock${String(requestCounter).padStart(8, '0')}`;
}

export function anthropicErrorBody(status: number, message?: string): Json {
  const [type, defaultMessage] = ERROR_TYPES[status] ?? ['api_error', 'Internal server error'];
  return { type: 'error', error: { type, message: message ?? defaultMessage }, request_id: requestId() };
}

// ---------- reply synthesis ----------

function tokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((block: Json) => {
      if (block?.['type'] === 'text') return String(block['text'] ?? '');
      if (block?.['type'] === 'tool_result') return textOf(block['content']);
      return '';
    })
    .join(' ');
}

/** A value that satisfies the common parts of a JSON schema, deterministically. */
export function sampleFromSchema(schema: unknown, key = 'value'): unknown {
  const s = (schema ?? {}) as Json;
  if (Array.isArray(s['enum']) && s['enum'].length > 0) return s['enum'][0];
  if (s['const'] !== undefined) return s['const'];
  const type = Array.isArray(s['type']) ? s['type'][0] : s['type'];
  switch (type) {
    case 'object': {
      const out: Json = {};
      const properties = (s['properties'] ?? {}) as Json;
      for (const [name, sub] of Object.entries(properties)) out[name] = sampleFromSchema(sub, name);
      return out;
    }
    case 'array':
      return [sampleFromSchema(s['items'], key)];
    case 'integer':
    case 'number':
      return 42;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return `${key}-sample`;
  }
}

interface Block {
  type: string;
  [key: string]: unknown;
}

interface Reply {
  content: Block[];
  stop_reason: string;
  stop_sequence: string | null;
  stop_details: Json | null;
  outputTokens: number;
  thinkingTokens: number;
}

function signature(text: string): string {
  return createHash('sha256').update(text).digest('base64');
}

/** Cache accounting: the prompt up to the last `cache_control` marker is written once, then read. */
function cacheUsage(body: Json, seen: Set<string>): { total: number; write: number; read: number } {
  const blocks: unknown[] = [];
  for (const tool of (body['tools'] as Json[] | undefined) ?? []) blocks.push(tool);
  const system = body['system'];
  if (typeof system === 'string') blocks.push({ type: 'text', text: system });
  else if (Array.isArray(system)) blocks.push(...system);
  for (const message of (body['messages'] as Json[] | undefined) ?? []) {
    const content = message['content'];
    if (typeof content === 'string') blocks.push({ type: 'text', text: content });
    else if (Array.isArray(content)) blocks.push(...content);
  }
  const total = Math.max(1, tokens(JSON.stringify(blocks)));
  let last = -1;
  blocks.forEach((block, i) => {
    if (block && typeof block === 'object' && (block as Json)['cache_control']) last = i;
  });
  if (body['cache_control']) last = blocks.length - 1;
  if (last < 0) return { total, write: 0, read: 0 };
  const prefix = JSON.stringify(blocks.slice(0, last + 1));
  const size = Math.min(total, tokens(prefix));
  const key = `${String(body['model'])}:${createHash('sha256').update(prefix).digest('hex')}`;
  if (seen.has(key)) return { total, write: 0, read: size };
  seen.add(key);
  return { total, write: size, read: 0 };
}

function synthesize(
  body: Json,
  options: Required<Pick<MockAnthropicOptions, 'toolTrigger' | 'refusalTrigger'>>,
): Reply {
  const messages = (body['messages'] as Json[]) ?? [];
  const lastUser = [...messages].reverse().find((m) => m['role'] === 'user');
  const lastContent = lastUser?.['content'];
  const toolResults = Array.isArray(lastContent) ? lastContent.filter((b: Json) => b?.['type'] === 'tool_result') : [];
  const userText = textOf(lastContent).trim();
  const tools = ((body['tools'] as Json[] | undefined) ?? []).filter((t) => t['input_schema']);
  const toolChoice = body['tool_choice'] as Json | undefined;
  const thinking = body['thinking'] as Json | undefined;
  const outputFormat = ((body['output_config'] as Json | undefined)?.['format'] ?? body['output_format']) as
    | Json
    | undefined;
  const content: Block[] = [];
  let thinkingTokens = 0;

  if (userText.includes(options.refusalTrigger)) {
    return {
      content: [],
      stop_reason: 'refusal',
      stop_sequence: null,
      stop_details: {
        type: 'refusal',
        category: 'cyber',
        explanation: 'This request triggered restrictions on violative cyber content.',
        recommended_model: null,
      },
      outputTokens: 5,
      thinkingTokens: 0,
    };
  }

  if (thinking && (thinking['type'] === 'enabled' || thinking['type'] === 'adaptive')) {
    const thought = `Thinking about: ${userText}`;
    const omitted = thinking['display'] === 'omitted';
    content.push({ type: 'thinking', thinking: omitted ? '' : thought, signature: signature(thought) });
    thinkingTokens = tokens(thought) + 2;
  }

  const forced = toolChoice?.['type'] === 'any' || toolChoice?.['type'] === 'tool';
  const wantsTools =
    tools.length > 0 &&
    toolResults.length === 0 &&
    toolChoice?.['type'] !== 'none' &&
    (forced || userText.includes(options.toolTrigger));
  if (wantsTools) {
    let chosen = tools;
    if (toolChoice?.['type'] === 'tool') chosen = tools.filter((t) => t['name'] === toolChoice['name']);
    if (toolChoice?.['disable_parallel_tool_use'] === true) chosen = chosen.slice(0, 1);
    else chosen = chosen.slice(0, 2);
    if (!forced) content.push({ type: 'text', text: 'I will use the tools.' });
    chosen.forEach((tool, i) => {
      content.push({
        type: 'tool_use',
        id: `toolu_mock${String(i + 1).padStart(2, '0')}${createHash('sha256').update(userText).digest('hex').slice(0, 12)}`,
        name: tool['name'],
        input: sampleFromSchema(tool['input_schema']),
      });
    });
    const outputTokens = thinkingTokens + tokens(JSON.stringify(content)) + 1;
    return { content, stop_reason: 'tool_use', stop_sequence: null, stop_details: null, outputTokens, thinkingTokens };
  }

  let text: string;
  if (toolResults.length > 0) text = `Received ${toolResults.length} tool result(s): ${userText}`;
  else if (outputFormat?.['type'] === 'json_schema') text = JSON.stringify(sampleFromSchema(outputFormat['schema']));
  else text = `Hello from mock Claude. You said: ${userText}`;

  let stopReason = 'end_turn';
  let stopSequence: string | null = null;
  for (const sequence of (body['stop_sequences'] as string[] | undefined) ?? []) {
    const at = text.indexOf(sequence);
    if (at >= 0 && (stopSequence === null || at < text.indexOf(stopSequence))) {
      stopSequence = sequence;
      stopReason = 'stop_sequence';
    }
  }
  if (stopSequence !== null) text = text.slice(0, text.indexOf(stopSequence));
  const maxTokens = typeof body['max_tokens'] === 'number' ? body['max_tokens'] : Number.POSITIVE_INFINITY;
  const budget = Math.max(0, maxTokens - thinkingTokens);
  if (tokens(text) > budget) {
    text = text.slice(0, budget * 4);
    stopReason = 'max_tokens';
    stopSequence = null;
  }
  if (text !== '') content.push({ type: 'text', text });
  return {
    content,
    stop_reason: stopReason,
    stop_sequence: stopSequence,
    stop_details: null,
    outputTokens: Math.max(1, thinkingTokens + tokens(text)),
    thinkingTokens,
  };
}

// ---------- request checks the real API makes ----------

/** The 400s a Claude generation gives for request shapes it no longer (or does not yet) accept. */
function modelRejection(body: Json): string | undefined {
  const model = String(body['model']);
  const newest = /opus-4-[7-9]|claude-(opus|sonnet|haiku)-5|fable|mythos/.test(model);
  const exclusive = /(sonnet|haiku|opus)-4-[56]/.test(model);
  const thinking = body['thinking'] as Json | undefined;
  if (newest) {
    for (const field of ['temperature', 'top_p', 'top_k']) {
      if (body[field] !== undefined) return `\`${field}\` is deprecated for this model.`;
    }
    if (thinking?.['type'] === 'enabled') {
      return '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.';
    }
  }
  if (exclusive && body['temperature'] !== undefined && body['top_p'] !== undefined) {
    return '`temperature` and `top_p` cannot both be specified for this model. Please use only one.';
  }
  if (thinking?.['type'] === 'adaptive' && !newest && !/(opus|sonnet|haiku)-4-6/.test(model)) {
    return 'adaptive thinking is not supported on this model';
  }
  if (thinking?.['type'] === 'enabled') {
    const budget = Number(thinking['budget_tokens']);
    if (!(budget >= 1024)) return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
    if (!(budget < Number(body['max_tokens']))) return '`max_tokens` must be greater than `thinking.budget_tokens`.';
    const choice = (body['tool_choice'] as Json | undefined)?.['type'];
    if (choice === 'any' || choice === 'tool') {
      return 'Thinking may not be enabled when tool_choice forces tool use.';
    }
  }
  return undefined;
}

/** What version 2026-10-21 stopped accepting in a Messages request. */
function versionRejection(body: Json): string | undefined {
  for (const field of ['temperature', 'top_p', 'top_k']) {
    if (body[field] !== undefined) return `${field}: Extra inputs are not permitted`;
  }
  for (const [i, message] of ((body['messages'] as Json[]) ?? []).entries()) {
    if (!Array.isArray(message['content'])) continue;
    for (const [j, block] of (message['content'] as Json[]).entries()) {
      if (message['role'] === 'assistant' && block['type'] === 'document') {
        return `messages.${i}.content.${j}: document blocks are not allowed in assistant messages`;
      }
      if (
        message['role'] === 'user' &&
        block['type'] === 'text' &&
        Array.isArray(block['citations']) &&
        block['citations'].length > 0
      ) {
        return `messages.${i}.content.${j}.citations: citations are not allowed in user messages`;
      }
    }
  }
  return undefined;
}

function validate(body: Json | undefined, version: string): string | undefined {
  if (!body) return 'There was an error parsing the body of your request.';
  if (typeof body['model'] !== 'string') return 'model: Field required';
  if (!Array.isArray(body['messages']) || body['messages'].length === 0) return 'messages: Field required';
  if (typeof body['max_tokens'] !== 'number') return 'max_tokens: Field required';
  for (const [i, message] of (body['messages'] as Json[]).entries()) {
    const content = message['content'];
    if (Array.isArray(content)) {
      for (const [j, block] of (content as Json[]).entries()) {
        if (block['type'] === 'text' && block['text'] === '') {
          return `messages.${i}.content.${j}.text: text content blocks must be non-empty`;
        }
      }
    }
  }
  return (version === '2026-10-21' ? versionRejection(body) : undefined) ?? modelRejection(body);
}

// ---------- streaming ----------

function chunks(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** A complete message as Anthropic streams it. */
export function streamEvents(message: Json): Json[] {
  const usage = message['usage'] as Json;
  const events: Json[] = [
    {
      type: 'message_start',
      message: {
        ...message,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        stop_details: null,
        usage: { ...usage, output_tokens: 1 },
      },
    },
  ];
  (message['content'] as Block[]).forEach((block, index) => {
    if (block.type === 'text') {
      events.push({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      if (index === 0) events.push({ type: 'ping' });
      for (const piece of chunks(String(block['text']), 12)) {
        events.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } });
      }
    } else if (block.type === 'thinking') {
      events.push({
        type: 'content_block_start',
        index,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      });
      if (index === 0) events.push({ type: 'ping' });
      for (const piece of chunks(String(block['thinking']), 16)) {
        events.push({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: piece } });
      }
      events.push({
        type: 'content_block_delta',
        index,
        delta: { type: 'signature_delta', signature: block['signature'] },
      });
    } else if (block.type === 'tool_use') {
      events.push({ type: 'content_block_start', index, content_block: { ...block, input: {} } });
      if (index === 0) events.push({ type: 'ping' });
      events.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } });
      for (const piece of chunks(JSON.stringify(block['input']), 10)) {
        events.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } });
      }
    }
    events.push({ type: 'content_block_stop', index });
  });
  events.push({
    type: 'message_delta',
    delta: {
      stop_reason: message['stop_reason'],
      stop_sequence: message['stop_sequence'],
      stop_details: message['stop_details'] ?? null,
    },
    usage: {
      input_tokens: usage['input_tokens'],
      cache_creation_input_tokens: usage['cache_creation_input_tokens'],
      cache_read_input_tokens: usage['cache_read_input_tokens'],
      output_tokens: usage['output_tokens'],
      ...(usage['output_tokens_details'] ? { output_tokens_details: usage['output_tokens_details'] } : {}),
    },
  });
  events.push({ type: 'message_stop' });
  return events;
}

// ---------- model list ----------

/**
 * One page of `GET /v1/models`: `limit` (1-1000, default 20), `after_id` / `before_id` cursors, newest first.
 * @see https://docs.anthropic.com/en/api/models-list
 */
function modelsPage(models: string[], query: URLSearchParams): Json {
  const limit = Math.min(1000, Math.max(1, Number(query.get('limit') ?? 20) || 20));
  const after = query.get('after_id');
  const before = query.get('before_id');
  let start = 0;
  let end = models.length;
  if (after !== null) start = models.indexOf(after) + 1;
  if (before !== null) end = Math.max(0, models.indexOf(before));
  const slice = before !== null ? models.slice(Math.max(start, end - limit), end) : models.slice(start, start + limit);
  const data = slice.map((id, i) => ({
    type: 'model',
    id,
    display_name: id.replace(/^claude-/, 'Claude ').replace(/-/g, ' '),
    created_at: new Date(Date.UTC(2026, 0, 1) - (start + i) * 86_400_000).toISOString(),
  }));
  const lastIndex = models.indexOf(slice.at(-1) ?? '');
  return {
    data,
    has_more: before !== null ? models.indexOf(slice[0] ?? '') > 0 : lastIndex >= 0 && lastIndex < models.length - 1,
    first_id: slice[0] ?? null,
    last_id: slice.at(-1) ?? null,
  };
}

// ---------- server ----------

export async function startMockAnthropic(options: MockAnthropicOptions = {}): Promise<MockAnthropic> {
  const apiKey = options.apiKey ?? 'sk-ant-mock-test-key';
  const faults = options.faults ?? new FaultQueue();
  // Mutable between requests (tests add a model); the handler reads it per request.
  const mock = { models: [...(options.models ?? MOCK_ANTHROPIC_MODELS)] };
  const requests: RecordedRequest[] = [];
  const scripted: MockReply[] = [];
  const replays: string[] = [];
  const cacheSeen = new Set<string>();
  const retryAfter = String(options.retryAfterSeconds ?? 7);
  const triggers = {
    toolTrigger: options.toolTrigger ?? 'use tools',
    refusalTrigger: options.refusalTrigger ?? '[[refuse]]',
  };
  let messageCounter = 0;

  const sendJSON = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': requestId(), ...headers });
    res.end(text);
  };

  const sendError = (
    res: ServerResponse,
    status: number,
    message?: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const extra: Record<string, string> = { 'x-should-retry': String(status === 429 || status >= 500), ...headers };
    if ((status === 429 || status === 529) && !('retry-after' in headers)) extra['retry-after'] = retryAfter;
    sendJSON(res, status, body ?? anthropicErrorBody(status, message), extra);
  };

  /** Streams frames, applying a mid-stream fault when there is one. */
  const sendStream = async (res: ServerResponse, frames: string[], fault: Fault | undefined) => {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'request-id': requestId(),
    });
    for (const [i, frame] of frames.entries()) {
      if (fault?.kind === 'reset-mid-stream' && i === fault.afterEvents) {
        res.socket?.destroy();
        return;
      }
      if (fault?.kind === 'malformed-stream' && i === fault.afterEvents) {
        res.end('event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {\n\n');
        return;
      }
      if (fault?.kind === 'stall-mid-stream' && i === fault.afterEvents) return;
      res.write(frame);
      // Let frames travel as separate chunks, as a real stream's do.
      await new Promise((resolve) => setImmediate(resolve));
    }
    res.end();
  };

  const sendBody = async (res: ServerResponse, text: string, fault: Fault | undefined) => {
    if (
      fault?.kind === 'reset-mid-stream' ||
      fault?.kind === 'stall-mid-stream' ||
      fault?.kind === 'malformed-stream'
    ) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.write(text.slice(0, Math.floor(text.length / 2)));
      if (fault.kind === 'reset-mid-stream') res.socket?.destroy();
      else if (fault.kind === 'malformed-stream') res.end();
      return;
    }
    sendJSON(res, 200, text);
  };

  const handleMessages = async (body: Json, res: ServerResponse, fault: Fault | undefined) => {
    const stream = body['stream'] === true;
    const script = scripted.shift();
    if (script) {
      if (script.kind === 'events') return sendStream(res, script.events.map(sseFrame), fault);
      if (script.kind === 'json') return sendJSON(res, script.status ?? 200, script.body, script.headers);
      res.writeHead(script.status ?? 200, { 'content-type': script.contentType ?? 'text/plain' });
      res.end(script.body);
      return;
    }
    const replay = replays.shift();
    if (replay) {
      if (stream) return sendStream(res, fixtureEvents(replay).map(sseFrame), fault);
      return sendBody(res, fixtureJSON(replay), fault);
    }

    const reply = synthesize(body, triggers);
    const cache = cacheUsage(body, cacheSeen);
    messageCounter++;
    const usage: Json = {
      input_tokens: cache.total - cache.write - cache.read,
      cache_creation_input_tokens: cache.write,
      cache_read_input_tokens: cache.read,
      cache_creation: { ephemeral_5m_input_tokens: cache.write, ephemeral_1h_input_tokens: 0 },
      output_tokens: reply.outputTokens,
      service_tier: 'standard',
    };
    if (reply.thinkingTokens > 0) usage['output_tokens_details'] = { thinking_tokens: reply.thinkingTokens };
    const message: Json = {
      model: body['model'],
      id: `msg_mock${String(messageCounter).padStart(6, '0')}`,
      type: 'message',
      role: 'assistant',
      content: reply.content,
      stop_reason: reply.stop_reason,
      stop_sequence: reply.stop_sequence,
      stop_details: reply.stop_details,
      usage,
    };
    if (stream) return sendStream(res, streamEvents(message).map(sseFrame), fault);
    return sendBody(res, JSON.stringify(message), fault);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Json | undefined;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Json;
    } catch {
      body = undefined;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body, raw });

    const fault = faults.next();
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'hang') return;
    if (fault?.kind === 'delay') await sleep(fault.ms);
    if (fault?.kind === 'status') {
      return sendError(res, fault.status, undefined, fault.body, fault.headers);
    }
    if (fault?.kind === 'garbage-body') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>502 Bad Gateway</body></html>');
      return;
    }

    const isModels = req.method === 'GET' && path === '/v1/models';
    if (!isModels && (req.method !== 'POST' || (path !== '/v1/messages' && path !== '/v1/messages/count_tokens'))) {
      return sendError(res, 404, 'Not found');
    }
    // API keys go in x-api-key, or (as the SDKs since API version 2026-10-21 send them) as a Bearer token.
    const bearer = /^Bearer (.+)$/.exec(String(req.headers['authorization'] ?? ''))?.[1];
    const presented = req.headers['x-api-key'] ?? bearer;
    if (presented !== apiKey) {
      return sendError(res, 401, presented ? 'invalid x-api-key' : 'x-api-key header is required');
    }
    const version = req.headers['anthropic-version'];
    if (!version) return sendError(res, 400, 'anthropic-version: header is required');
    if (!API_VERSIONS.includes(String(version))) {
      return sendError(res, 400, `anthropic-version: invalid version ${String(version)}`);
    }
    if (isModels)
      return sendJSON(res, 200, modelsPage(mock.models, new URL(req.url ?? '/', 'http://mock').searchParams));
    if (body && typeof body['model'] === 'string' && body['model'].startsWith('unknown-')) {
      return sendError(res, 404, `model: ${body['model']}`);
    }

    if (path === '/v1/messages/count_tokens') {
      if (!body || typeof body['model'] !== 'string' || !Array.isArray(body['messages'])) {
        return sendError(res, 400, 'messages: Field required');
      }
      for (const field of ['max_tokens', 'stream', 'temperature', 'stop_sequences']) {
        if (field in body) return sendError(res, 400, `${field}: Extra inputs are not permitted`);
      }
      return sendJSON(res, 200, { input_tokens: cacheUsage(body, new Set()).total });
    }

    const problem = validate(body, String(version));
    if (problem) return sendError(res, 400, problem);
    await handleMessages(body!, res, fault);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, String(err));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const out: MockAnthropic = Object.assign(mock, {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    faults,
    requests,
    replay: (name) => {
      replays.push(name);
    },
    enqueue: (reply) => {
      scripted.push(reply);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  } satisfies Omit<MockAnthropic, 'models'>);
  return out;
}
