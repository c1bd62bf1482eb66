/**
 * A protocol-faithful mock of an OpenAI-compatible provider: a real HTTP server on 127.0.0.1 that speaks the
 * Chat Completions wire format (OpenAI's `/v1` and Azure's deployment paths), replays recorded samples or
 * synthesizes deterministic completions from the request, and injects faults from a FaultQueue.
 *
 *   const mock = await startMockOpenAI({ flavour: 'groq' });
 *   // base URL: mock.url (ends in /v1); key: MOCK_API_KEY; Azure endpoint: mock.origin
 *   mock.faults.push({ kind: 'status', status: 429 });
 *   mock.options.replay = 'groq/groq-text';   // scenario controls are the mutable options
 *   await mock.close();
 *
 * Every request takes `faults.next()` before anything else, so faults line up with requests one to one.
 * Provider quirks (usage placement, rejected params, error bodies) come from ./openai-compatible/flavours.ts.
 *
 * @see https://platform.openai.com/docs/api-reference/chat
 * @see https://learn.microsoft.com/en-us/azure/ai-services/openai/reference
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Fault, FaultQueue } from './faults.ts';
import { answerEmbeddings, type EmbeddingsOptions } from './openai-compatible/embeddings.ts';
import { type ErrorContext, type ErrorSituation, errorBody } from './openai-compatible/errors.ts';
import { FLAVOURS, type FlavourName, pseudoRandom } from './openai-compatible/flavours.ts';
import { type ChatRequest, planCompletion, type SynthesisOptions } from './openai-compatible/plan.ts';
import { renderCompletion } from './openai-compatible/render-body.ts';
import { renderChunks } from './openai-compatible/render-chunks.ts';
import { DONE_EVENT, type FixtureName, frameEvent, loadReplay } from './openai-compatible/replay.ts';

export { defaultDimensions, embeddingTokens, mockEmbedding } from './openai-compatible/embeddings.ts';
export { FLAVOURS, type FlavourName } from './openai-compatible/flavours.ts';
export { countPromptTokens, countTokens, splitTokens } from './openai-compatible/tokens.ts';

export const MOCK_API_KEY = 'sk-mock-0123456789abcdefghijklmnopqrstuvwxyz';
export const MOCK_MODELS = ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-nano'];

export interface MockOpenAIOptions extends SynthesisOptions, EmbeddingsOptions {
  /** Provider quirks for `/v1` requests (default `openai`); Azure deployment paths always use `azure`. */
  flavour?: FlavourName;
  /** Accepted keys (Bearer on `/v1`, `api-key` on Azure paths). Default: [MOCK_API_KEY]. */
  apiKeys?: string[];
  /** Served by GET /v1/models; with `strictModels`, any other model gets the provider's 404. */
  models?: string[];
  strictModels?: boolean;
  /** Request parameters answered with the provider's 400/422; default: the flavour's list. */
  rejectParams?: string[];
  /** Answer every chat request with this recorded sample (e.g. `groq/groq-text`). */
  replay?: FixtureName;
  /** Recorded sample per requested model (wins over `replay`). */
  replayByModel?: Record<string, FixtureName>;
  /** Pause between stream events. */
  chunkDelayMs?: number;
  /** Retry-After (seconds) sent with a 429 fault. Default 1. */
  retryAfterSeconds?: number;
  /** Recorded Responses API samples answered on `/v1/responses` (defaults: a reasoning + text answer). */
  responsesReplay?: FixtureName;
  responsesStreamReplay?: FixtureName;
  /** For benchmarks: no request recording, whole streams in one write. */
  fast?: boolean;
}

export interface RecordedRequest {
  method: string;
  /** Path with query string. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; the raw text if it was not JSON; undefined if empty. */
  body: unknown;
}

export interface MockOpenAI {
  /** Base URL for OpenAI clients, ending in /v1. */
  url: string;
  /** Origin, the `endpoint` for Azure clients. */
  origin: string;
  requests: RecordedRequest[];
  faults: FaultQueue;
  /** Scenario controls: change any option between requests. */
  options: MockOpenAIOptions;
  /** Clears recorded requests and queued faults. */
  reset(): void;
  close(): Promise<void>;
}

const RESPONSES_SAMPLE = 'openai/responses/openai-reasoning-encrypted-content.1';
const RESPONSES_STREAM_SAMPLE = 'openai/responses/openai-phase.1';

const AZURE_PATH = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/;

export async function startMockOpenAI(initial: MockOpenAIOptions = {}): Promise<MockOpenAI> {
  const options: MockOpenAIOptions = { ...initial };
  const requests: RecordedRequest[] = [];
  const faults = new FaultQueue();
  const stopped = new AbortController();
  let seq = 0;
  let requestSeq = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A bug in the mock must not look like a provider answer a test could accept.
      if (!res.headersSent) sendJSON(res, 599, { mockError: String(err) });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const fault = faults.next();
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://mock');
    let body: unknown;
    let invalidJSON = false;
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
        invalidJSON = true;
      }
    }
    if (!options.fast) {
      requests.push({ method: req.method ?? '', path: url.pathname + url.search, headers: req.headers, body });
    }

    const azure = AZURE_PATH.exec(url.pathname);
    const flavour = azure ? FLAVOURS.azure : FLAVOURS[options.flavour ?? 'openai'];
    const model = azure
      ? String((body as { model?: unknown } | undefined)?.model ?? decodeURIComponent(azure[1]!))
      : String((body as { model?: unknown } | undefined)?.model ?? '');
    const context: ErrorContext = {
      model,
      key: '',
      param: '',
      retryAfterSeconds: options.retryAfterSeconds ?? 1,
      apiVersion: url.searchParams.get('api-version') ?? '',
      method: req.method ?? '',
      path: url.pathname,
    };
    const fail = (status: number, situation: ErrorSituation, extra: Partial<ErrorContext> = {}, headers = {}) =>
      sendJSON(res, status, errorBody(flavour.errors, situation, { ...context, ...extra }), headers);

    if (fault?.kind === 'reset') return void req.socket.destroy();
    if (fault?.kind === 'hang') return;
    if (fault?.kind === 'status') {
      const headers =
        fault.status === 429 ? { 'retry-after': String(context.retryAfterSeconds), ...fault.headers } : fault.headers;
      if (fault.body !== undefined) return sendJSON(res, fault.status, fault.body, headers);
      return fail(fault.status, fault.status, {}, headers);
    }
    if (fault?.kind === 'delay') {
      if (!(await pause(fault.ms, stopped.signal))) return;
    }
    if (fault?.kind === 'gate') await fault.open;

    const isChat =
      req.method === 'POST' && (url.pathname === '/v1/chat/completions' || azure?.[2] === 'chat/completions');
    const isEmbeddings = req.method === 'POST' && (url.pathname === '/v1/embeddings' || azure?.[2] === 'embeddings');
    const isModels = req.method === 'GET' && url.pathname === '/v1/models';
    // OpenAI's own Responses API, only where the flavour serves it (OpenAI; the family's others answer 404).
    const isResponses =
      req.method === 'POST' && url.pathname === '/v1/responses' && !azure && flavour.name === 'openai';
    if (!isChat && !isModels && !isEmbeddings && !isResponses) return fail(404, 'no-route');
    if (azure && !context.apiVersion) return fail(404, 'no-route');

    const key = azure ? header(req.headers['api-key']) : /^Bearer (.+)$/.exec(header(req.headers.authorization))?.[1];
    if (!key) return fail(401, 'missing-key');
    if (!(options.apiKeys ?? [MOCK_API_KEY]).includes(key)) return fail(401, 401, { key });

    const models = options.models ?? MOCK_MODELS;
    if (isModels) {
      return respondBody(res, 200, JSON.stringify(modelList(models)), fault);
    }

    if (invalidJSON || body === null || typeof body !== 'object') return fail(400, 'invalid-json');
    if (!model) return fail(400, 'missing-model');
    if (isEmbeddings) {
      if (options.strictModels && !azure && !models.includes(model)) return fail(404, 404);
      // Mistral's embeddings reject fields they do not define (pydantic `extra_forbidden`).
      const foreign = ['dimensions', 'user'].find((param) => (body as Record<string, unknown>)[param] !== undefined);
      if (options.flavour === 'mistral' && !azure && foreign) return fail(422, 'unsupported-param', { param: foreign });
      const answer = answerEmbeddings(body as Record<string, unknown>, model, options);
      return respondBody(res, answer.status, JSON.stringify(answer.body), fault);
    }
    if (isResponses) {
      const request = body as Record<string, unknown>;
      if (request['input'] === undefined) return fail(400, 'missing-messages');
      // Recorded answers of OpenAI's Responses API, framed as OpenAI frames them: `event: <type>` and `data:`.
      const replayed = loadReplay(
        request['stream'] === true
          ? (options.responsesStreamReplay ?? RESPONSES_STREAM_SAMPLE)
          : (options.responsesReplay ?? RESPONSES_SAMPLE),
        request['stream'] === true,
      );
      if (replayed.kind === 'body') return respondBody(res, replayed.status, replayed.body, fault);
      const events = replayed.events
        .filter((event) => event !== DONE_EVENT)
        .map((event) => `event: ${(JSON.parse(event.slice(6)) as { type: string }).type}\n${event}`);
      return respondStream(res, events, fault, false);
    }
    const chat = body as ChatRequest;
    if (!Array.isArray(chat.messages)) return fail(400, 'missing-messages');
    if (options.strictModels && !azure && !models.includes(model)) return fail(404, 404);
    const rejected = (options.rejectParams ?? flavour.rejectParams).find(
      (param) => (chat as unknown as Record<string, unknown>)[param] !== undefined,
    );
    if (rejected) return fail(flavour.rejectStatus, 'unsupported-param', { param: rejected });

    const stream = chat.stream === true;
    const fixture = options.replayByModel?.[model] ?? options.replay;
    if (fixture) {
      const replayed = loadReplay(fixture, stream);
      if (replayed.kind === 'stream') return respondStream(res, replayed.events, fault, false);
      return respondBody(res, replayed.status, replayed.body, fault);
    }

    const plan = planCompletion(chat, model, seq++, flavour, options);
    if (!stream) return respondBody(res, 200, JSON.stringify(renderCompletion(plan, flavour)), fault);
    const events = renderChunks(plan, flavour, chat).map((chunk) => frameEvent(JSON.stringify(chunk)));
    events.push(DONE_EVENT);
    return respondStream(res, events, fault, flavour.keepAliveComment);
  }

  function baseHeaders(): Record<string, string> {
    return { 'x-request-id': `req_${pseudoRandom(requestSeq++, 32, '0123456789abcdef')}` };
  }

  function sendJSON(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    res.writeHead(status, {
      ...baseHeaders(),
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  /** A complete JSON body, or the body-level faults: garbage, or cut/stalled halfway. */
  async function respondBody(res: ServerResponse, status: number, text: string, fault: Fault | undefined) {
    if (fault?.kind === 'garbage-body') return sendJSON(res, 200, GARBAGE);
    if (
      fault?.kind === 'reset-mid-stream' ||
      fault?.kind === 'stall-mid-stream' ||
      fault?.kind === 'malformed-stream'
    ) {
      res.writeHead(status, { ...baseHeaders(), 'content-type': 'application/json' });
      await write(res, text.slice(0, Math.floor(text.length / 2)));
      if (fault.kind === 'reset-mid-stream') res.destroy();
      if (fault.kind === 'malformed-stream') res.end();
      return;
    }
    sendJSON(res, status, text);
  }

  async function respondStream(res: ServerResponse, events: string[], fault: Fault | undefined, keepAlive: boolean) {
    res.writeHead(200, {
      ...baseHeaders(),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
    });
    if (fault?.kind === 'garbage-body') return void res.end(GARBAGE);
    if (keepAlive) res.write(': keep-alive\n\n');
    const cutAt =
      fault?.kind === 'reset-mid-stream' || fault?.kind === 'malformed-stream' || fault?.kind === 'stall-mid-stream'
        ? fault.afterEvents
        : events.length;
    const delay = options.fast ? 0 : (options.chunkDelayMs ?? 0);
    // Writes are awaited so that, on a reset, the events before the cut reach the client first.
    if (delay === 0) await write(res, events.slice(0, cutAt).join(''));
    else {
      for (let i = 0; i < Math.min(cutAt, events.length); i++) {
        if (i > 0 && !(await pause(delay, stopped.signal))) return;
        if (res.destroyed) return;
        await write(res, events[i]!);
      }
    }
    if (fault?.kind === 'reset-mid-stream') return void res.destroy();
    if (fault?.kind === 'stall-mid-stream') return;
    if (fault?.kind === 'malformed-stream') return void res.end(MALFORMED_EVENT);
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    url: `${origin}/v1`,
    origin,
    requests,
    faults,
    options,
    reset() {
      requests.length = 0;
      faults.clear();
    },
    close() {
      stopped.abort();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** An HTML error page where JSON was expected (what a misbehaving proxy returns). */
const GARBAGE = '<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>';
/** A `data:` line whose payload is cut-off JSON. */
const MALFORMED_EVENT =
  'data: {"id":"chatcmpl-broken","object":"chat.completion.chunk","choices":[{"delta":{"content":"tru\n\n';

function modelList(models: string[]) {
  return {
    object: 'list',
    data: models.map((id) => ({ id, object: 'model', created: 1686935002, owned_by: 'system' })),
  };
}

/** Writes and waits until the bytes are handed to the socket. */
function write(res: ServerResponse, data: string): Promise<ServerResponse> {
  if (res.destroyed || data === '') return Promise.resolve(res);
  return new Promise((resolve) => res.write(data, () => resolve(res)));
}

function header(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/** Sleeps; false if the mock was closed meanwhile. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
