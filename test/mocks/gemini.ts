import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Fault, FaultQueue, sleep } from './faults.ts';
import { answerEmbedding } from './gemini-embeddings.ts';

/**
 * A mock of the Google Gemini API (generativelanguage.googleapis.com) on 127.0.0.1, speaking its wire format:
 *
 * - `POST /{v1beta|v1|v1alpha}/models/{model}:generateContent` → one JSON response.
 * - `POST .../models/{model}:streamGenerateContent?alt=sse` → server-sent events, each `data: {json}` and a
 *   blank line with CRLF line ends, as Google frames them; no terminal marker (the last chunk carries
 *   `finishReason`). Without `alt=sse`, Google streams one JSON array; so does the mock.
 * - The key comes in the `x-goog-api-key` header or the `key` query parameter; a missing key is a 403, a
 *   wrong one a 400 API_KEY_INVALID, with Google's real error bodies.
 * - Requests are checked the way Google checks them where an adapter is likely to slip: empty contents,
 *   parts or text, roles, schema keywords outside Gemini's subset, string formats, function response count,
 *   Gemini 3 thought signatures on replayed function calls (missing, or issued for another model),
 *   penalties and thinking options the model does not accept.
 * - Replies are synthesized deterministically from the request (same request, same answer) or replayed
 *   from recorded samples in test/fixtures/wire/google. Triggers in the last user text:
 *   `[tool]` / `[parallel]` (function calls, needs tools), `[safety]` (finishReason SAFETY), `[blocked]`
 *   (promptFeedback.blockReason), `[recitation]`, `[malformed_call]`, `[other]`, `[max_tokens]`,
 *   `[cached]` (cachedContentTokenCount), `[no_finish]` (the answer ends without a finishReason),
 *   `[stream_error]` (an error envelope as the second event of a stream), `[replay:<fixture name>]`.
 *   `thinkingConfig.includeThoughts` adds thought parts; thinking models always report thoughtsTokenCount.
 * - Faults (test/mocks/faults.ts): each request takes `faults.next()`.
 * @see https://ai.google.dev/api/generate-content
 */

export const MOCK_GEMINI_KEY = 'mock-gemini-key-0123';
const FIXTURES = new URL('../fixtures/wire/google/', import.meta.url);

type Json = Record<string, unknown>;
type Chunk = Json;

export interface MockGeminiOptions {
  apiKey?: string;
  faults?: FaultQueue;
  /** batchEmbedContents answers carry usageMetadata (newer API versions do; older answers have none). */
  embeddingUsage?: boolean;
  /** Served by `GET /{version}/models` (models.list). Default: MOCK_GEMINI_MODELS. */
  models?: string[];
}

export const MOCK_GEMINI_MODELS = [
  'gemini-2.5-pro',
  'gemini-2.5-flash',
  'gemini-2.5-flash-lite',
  'gemini-embedding-001',
];

export interface RecordedGeminiRequest {
  method: string;
  path: string;
  model: string;
  action: 'generateContent' | 'streamGenerateContent' | 'embedContent' | 'batchEmbedContents';
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (undefined when it was not JSON). */
  body: Json | undefined;
  /** Where the key came from. */
  keySource: 'header' | 'query' | 'none';
}

export interface MockGemini {
  /** Host root, as Google's: `${baseUrl}/v1beta/models/...`. */
  baseUrl: string;
  apiKey: string;
  faults: FaultQueue;
  requests: RecordedGeminiRequest[];
  /** What models.list names; change it between requests. */
  models: string[];
  close(): Promise<void>;
}

export async function startMockGemini(options: MockGeminiOptions = {}): Promise<MockGemini> {
  const apiKey = options.apiKey ?? MOCK_GEMINI_KEY;
  const faults = options.faults ?? new FaultQueue();
  const requests: RecordedGeminiRequest[] = [];
  const state: State = {
    apiKey,
    faults,
    requests,
    embeddingUsage: options.embeddingUsage === true,
    models: [...(options.models ?? MOCK_GEMINI_MODELS)],
  };
  const server = createServer((req, res) => {
    handle(req, res, state).catch(() => {
      if (!res.headersSent) sendError(res, 500);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    apiKey,
    faults,
    requests,
    get models() {
      return state.models;
    },
    set models(list: string[]) {
      state.models = list;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface State {
  embeddingUsage: boolean;
  apiKey: string;
  faults: FaultQueue;
  requests: RecordedGeminiRequest[];
  models: string[];
}

const LIST_ROUTE = /^\/(v1|v1beta|v1alpha)\/models$/;

/**
 * models.list: `pageSize` (default 50, at most 1000) and `pageToken` (here: the next index), each model with the
 * generation methods it supports (`embedContent` for embedding models, `generateContent` for the others).
 * @see https://ai.google.dev/api/models#method:-models.list
 */
function modelsPage(models: string[], query: URLSearchParams): Json {
  const size = Math.min(1000, Math.max(1, Number(query.get('pageSize') ?? 50) || 50));
  const start = Number(query.get('pageToken') ?? 0) || 0;
  const slice = models.slice(start, start + size);
  const page: Json = {
    models: slice.map((name) => {
      const embeds = name.includes('embedding');
      return {
        name: `models/${name}`,
        version: '001',
        displayName: name,
        description: `Mock ${name}`,
        inputTokenLimit: embeds ? 2048 : 1_048_576,
        outputTokenLimit: embeds ? 1 : 65_536,
        supportedGenerationMethods: embeds
          ? ['embedContent', 'countTextTokens', 'countTokens']
          : ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'],
        ...(embeds ? {} : { temperature: 1, topP: 0.95, topK: 64, maxTemperature: 2, thinking: true }),
      };
    }),
  };
  if (start + size < models.length) page['nextPageToken'] = String(start + size);
  return page;
}

const ROUTE =
  /^\/(v1|v1beta|v1alpha)\/models\/([^/:]+):(generateContent|streamGenerateContent|embedContent|batchEmbedContents)$/;

async function handle(req: IncomingMessage, res: ServerResponse, state: State): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const raw = await readAll(req);
  if (req.method === 'GET' && LIST_ROUTE.test(url.pathname)) {
    const key = req.headers['x-goog-api-key'] ?? url.searchParams.get('key');
    if (!key) return void sendError(res, 403, "Method doesn't allow unregistered callers");
    if (key !== state.apiKey) return void sendError(res, 400, 'API key not valid. Please pass a valid API key.');
    return void sendJson(res, 200, modelsPage(state.models, url.searchParams));
  }
  const route = ROUTE.exec(url.pathname);
  if (req.method !== 'POST' || !route) {
    sendError(res, 404);
    return;
  }
  const model = decodeURIComponent(route[2]!);
  const action = route[3] as RecordedGeminiRequest['action'];
  let body: Json | undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Json;
  } catch {
    body = undefined;
  }
  const headerKey = req.headers['x-goog-api-key'];
  const queryKey = url.searchParams.get('key');
  state.requests.push({
    method: req.method,
    path: url.pathname,
    model,
    action,
    query: Object.fromEntries(url.searchParams),
    headers: req.headers,
    body,
    keySource: headerKey ? 'header' : queryKey ? 'query' : 'none',
  });

  const fault = state.faults.next();
  if (fault && (await applyEarlyFault(fault, req, res))) return;

  const key = typeof headerKey === 'string' ? headerKey : queryKey;
  if (!key) {
    sendError(
      res,
      403,
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
    );
    return;
  }
  if (key !== state.apiKey) {
    sendJson(res, 400, {
      error: {
        code: 400,
        message: 'API key not valid. Please pass a valid API key.',
        status: 'INVALID_ARGUMENT',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason: 'API_KEY_INVALID',
            domain: 'googleapis.com',
            metadata: { service: 'generativelanguage.googleapis.com' },
          },
        ],
      },
    });
    return;
  }
  if (!body) {
    sendError(res, 400, `Invalid JSON payload received. Unexpected token.`);
    return;
  }
  if (!/^(gemini|gemma)-/.test(model)) {
    sendError(
      res,
      404,
      `models/${model} is not found for API version ${route[1]}, or is not supported for ${action}. Call ListModels to see the list of available models and their supported methods.`,
    );
    return;
  }
  if (action === 'embedContent' || action === 'batchEmbedContents') {
    const answer = answerEmbedding(action, body, model, state.embeddingUsage);
    if (answer.body) await sendComplete(res, answer.body, fault);
    else sendError(res, answer.status, answer.message);
    return;
  }
  const invalid = validate(body, model);
  if (invalid) {
    sendError(res, 400, invalid);
    return;
  }

  const chunks = reply(body, model, action === 'streamGenerateContent');
  if (!chunks) {
    sendError(res, 404, 'No such recorded sample.');
    return;
  }
  const lastText = textOf((body['contents'] as Json[]).at(-1));
  if (lastText.includes('[no_finish]')) {
    for (const chunk of chunks)
      for (const candidate of (chunk['candidates'] ?? []) as Json[]) delete candidate['finishReason'];
  }
  if (lastText.includes('[stream_error]')) chunks.splice(1, chunks.length - 1, googleErrorBody(503));
  if (action === 'streamGenerateContent') await sendStream(res, chunks, url.searchParams.get('alt') === 'sse', fault);
  else await sendComplete(res, mergeChunks(chunks), fault);
}

// ---------- faults and framing ----------

/** Faults that replace the whole answer. Returns true when the request is dealt with. */
async function applyEarlyFault(fault: Fault, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  switch (fault.kind) {
    case 'status':
      if (fault.body === undefined) sendError(res, fault.status, undefined, fault.headers);
      else sendJson(res, fault.status, fault.body, fault.headers);
      return true;
    case 'delay':
      await sleep(fault.ms);
      return false;
    case 'hang':
      return true;
    case 'reset':
      req.socket.destroy();
      return true;
    case 'garbage-body':
      res.writeHead(200, { 'content-type': 'text/html; charset=UTF-8' });
      res.end('<html><body>502 Bad Gateway</body></html>');
      return true;
    default:
      return false;
  }
}

async function sendStream(res: ServerResponse, chunks: Chunk[], sse: boolean, fault: Fault | undefined) {
  res.writeHead(200, {
    'content-type': sse ? 'text/event-stream' : 'application/json; charset=UTF-8',
    'x-content-type-options': 'nosniff',
  });
  const frames = chunks.map((chunk, i) =>
    sse ? `data: ${JSON.stringify(chunk)}\r\n\r\n` : `${i === 0 ? '[' : ','}${JSON.stringify(chunk)}\r\n`,
  );
  if (!sse) frames.push(']');
  for (let i = 0; i < frames.length; i++) {
    if (fault && 'afterEvents' in fault && i === fault.afterEvents) {
      if (fault.kind === 'reset-mid-stream') {
        res.socket?.destroy();
        return;
      }
      if (fault.kind === 'malformed-stream') {
        res.end('data: {"candidates": [{"content": \r\n\r\n');
        return;
      }
      if (fault.kind === 'stall-mid-stream') return;
    }
    res.write(frames[i]);
    // Let each frame leave as its own write, as a live stream does.
    await new Promise((resolve) => setImmediate(resolve));
  }
  res.end();
}

async function sendComplete(res: ServerResponse, response: Json, fault: Fault | undefined) {
  const text = JSON.stringify(response, null, 2);
  if (fault && 'afterEvents' in fault) {
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    const half = text.slice(0, Math.floor(text.length / 2));
    if (fault.kind === 'reset-mid-stream') {
      res.write(half);
      await new Promise((resolve) => setImmediate(resolve));
      res.socket?.destroy();
    } else if (fault.kind === 'malformed-stream') {
      res.end(half);
    } else {
      res.write(half);
    }
    return;
  }
  sendJson(res, 200, response);
}

const ERRORS: Record<number, [status: string, message: string]> = {
  400: ['INVALID_ARGUMENT', 'Request contains an invalid argument.'],
  401: [
    'UNAUTHENTICATED',
    'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
  ],
  403: ['PERMISSION_DENIED', 'The caller does not have permission'],
  404: ['NOT_FOUND', 'Requested entity was not found.'],
  429: ['RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'],
  500: [
    'INTERNAL',
    'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  ],
  503: ['UNAVAILABLE', 'The model is overloaded. Please try again later.'],
  504: ['DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.'],
};

/** Google's error envelope for a status; a 429 is the recorded sample (QuotaFailure + RetryInfo). */
export function googleErrorBody(status: number, message?: string): Json {
  if (status === 429 && message === undefined) return readFixtureJson('google-429-retry-info.json')!;
  const [rpcStatus, defaultMessage] = ERRORS[status] ?? ['UNKNOWN', 'Unknown error.'];
  return { error: { code: status, message: message ?? defaultMessage, status: rpcStatus } };
}

function sendError(res: ServerResponse, status: number, message?: string, headers?: Record<string, string>) {
  sendJson(res, status, googleErrorBody(status, message), headers);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
  res.end(JSON.stringify(body, null, 2));
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// ---------- request checks, as Google makes them ----------

const SCHEMA_FIELDS = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'default',
  'items',
  'minimum',
  'maximum',
]);
const SCHEMA_TYPES = new Set(['STRING', 'NUMBER', 'INTEGER', 'BOOLEAN', 'ARRAY', 'OBJECT', 'NULL']);
const SKIP_SIGNATURE = 'skip_thought_signature_validator';

function majorVersion(model: string): number | undefined {
  const match = /^gemini-(\d+)/.exec(model);
  return match ? Number(match[1]) : undefined;
}

function validate(body: Json, model: string): string | undefined {
  const contents = body['contents'];
  if (!Array.isArray(contents) || contents.length === 0) {
    return '* GenerateContentRequest.contents: contents is not specified\n';
  }
  for (const [i, content] of (contents as Json[]).entries()) {
    if (content['role'] !== undefined && content['role'] !== 'user' && content['role'] !== 'model') {
      return 'Please use a valid role: user, model.';
    }
    const parts = content['parts'];
    if (!Array.isArray(parts) || parts.length === 0) {
      return `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.\n`;
    }
    for (const part of parts as Json[]) {
      if (part['text'] === '' && !part['thoughtSignature']) {
        return 'Unable to submit request because it has an empty text parameter. Add a value to the parameter and try again. Learn more: https://cloud.google.com/vertex-ai/generative-ai/docs/multimodal/gemini';
      }
    }
  }
  const tools = Array.isArray(body['tools']) ? (body['tools'] as Json[]) : [];
  for (const [t, tool] of tools.entries()) {
    const declarations = Array.isArray(tool['functionDeclarations']) ? (tool['functionDeclarations'] as Json[]) : [];
    for (const [d, declaration] of declarations.entries()) {
      if (declaration['parameters'] !== undefined) {
        const problem = checkSchema(declaration['parameters'], `tools[${t}].function_declarations[${d}].parameters`);
        if (problem) return problem;
      }
    }
  }
  const config = (body['generationConfig'] ?? {}) as Json;
  if (config['responseSchema'] !== undefined) {
    const problem = checkSchema(config['responseSchema'], 'generation_config.response_schema');
    if (problem) return problem;
  }
  if (config['responseSchema'] !== undefined && config['responseMimeType'] !== 'application/json') {
    return 'responseSchema requires responseMimeType to be application/json';
  }
  const major = majorVersion(model);
  if ((config['presencePenalty'] !== undefined || config['frequencyPenalty'] !== undefined) && major !== undefined) {
    return `Penalty is not enabled for models/${model}`;
  }
  const thinking = config['thinkingConfig'] as Json | undefined;
  if (thinking) {
    if (/^(gemini-(1|2\.0)|gemma-)/.test(model)) return 'Thinking is not supported by this model.';
    if (thinking['thinkingLevel'] !== undefined && thinking['thinkingBudget'] !== undefined) {
      return 'You can only set only one of thinking budget and thinking level.';
    }
    if (thinking['thinkingLevel'] !== undefined && major !== undefined && major < 3) {
      return 'Thinking level is not supported for this model.';
    }
    if (thinking['thinkingLevel'] === 'MINIMAL' && /-pro\b/.test(model)) {
      return 'Thinking level MINIMAL is not supported for this model. Please retry with other thinking level.';
    }
  }
  return checkFunctionTurns(contents as Json[], model);
}

function checkSchema(schema: unknown, path: string): string | undefined {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return undefined;
  const node = schema as Json;
  for (const key of Object.keys(node)) {
    if (!SCHEMA_FIELDS.has(key)) {
      return `Invalid JSON payload received. Unknown name "${key}" at '${path}': Cannot find field.`;
    }
  }
  const type = node['type'];
  if (type !== undefined && !(typeof type === 'string' && SCHEMA_TYPES.has(type.toUpperCase()))) {
    return `Invalid value at '${path}.type', "${String(type)}"`;
  }
  const upper = typeof type === 'string' ? type.toUpperCase() : '';
  if (upper === 'STRING' && node['format'] !== undefined && !['enum', 'date-time'].includes(String(node['format']))) {
    return `* GenerateContentRequest.${path}.format: only 'enum' and 'date-time' are supported for STRING type\n`;
  }
  if (node['enum'] !== undefined && upper !== 'STRING') {
    return `* GenerateContentRequest.${path}.enum: only allowed for STRING type\n`;
  }
  if (Array.isArray(node['enum']) && node['enum'].some((value) => typeof value !== 'string')) {
    return `Invalid value at '${path}.enum' (TYPE_STRING)`;
  }
  const properties = node['properties'];
  if (upper === 'OBJECT' && properties !== undefined && Object.keys(properties as Json).length === 0) {
    return `* GenerateContentRequest.${path}.properties: should be non-empty for OBJECT type\n`;
  }
  if (Array.isArray(node['required'])) {
    for (const [i, name] of (node['required'] as unknown[]).entries()) {
      if (!properties || typeof name !== 'string' || !(name in (properties as Json))) {
        return `* GenerateContentRequest.${path}.required[${i}]: property is not defined\n`;
      }
    }
  }
  if (properties && typeof properties === 'object') {
    for (const [name, value] of Object.entries(properties as Json)) {
      const problem = checkSchema(value, `${path}.properties[${name}]`);
      if (problem) return problem;
    }
  }
  if (node['items'] !== undefined) return checkSchema(node['items'], `${path}.items`);
  if (Array.isArray(node['anyOf'])) {
    for (const [i, branch] of (node['anyOf'] as unknown[]).entries()) {
      const problem = checkSchema(branch, `${path}.any_of[${i}]`);
      if (problem) return problem;
    }
  }
  return undefined;
}

function partsOf(content: Json): Json[] {
  return Array.isArray(content['parts']) ? (content['parts'] as Json[]) : [];
}

/**
 * Function responses must answer the preceding model turn's calls one for one, and on Gemini 3 every model
 * turn of the current turn (since the last real user message) that calls functions must carry a thought
 * signature on its first call, issued for this model.
 */
function checkFunctionTurns(contents: Json[], model: string): string | undefined {
  for (const [i, content] of contents.entries()) {
    const responses = partsOf(content).filter((p) => p['functionResponse']).length;
    if (responses === 0) continue;
    const previous = contents[i - 1];
    const calls = previous ? partsOf(previous).filter((p) => p['functionCall']).length : 0;
    if (previous?.['role'] !== 'model' || calls !== responses) {
      return 'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.';
    }
  }
  if ((majorVersion(model) ?? 3) < 3) return undefined;
  let turnStart = 0;
  contents.forEach((content, i) => {
    if (content['role'] !== 'model' && partsOf(content).some((p) => typeof p['text'] === 'string')) turnStart = i;
  });
  for (let i = turnStart; i < contents.length; i++) {
    const content = contents[i]!;
    if (content['role'] !== 'model') continue;
    const parts = partsOf(content);
    const first = parts.findIndex((p) => p['functionCall']);
    if (first === -1) continue;
    const signature = parts[first]!['thoughtSignature'];
    const name = (parts[first]!['functionCall'] as Json)['name'];
    if (typeof signature !== 'string') {
      return `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${String(name)}\` , position ${first + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`;
    }
    const issuedFor = mockSignatureModel(signature);
    if (signature !== SKIP_SIGNATURE && issuedFor !== undefined && issuedFor !== model) {
      return 'Corrupted thought signature.';
    }
  }
  return undefined;
}

// ---------- replies ----------

/** Signatures the mock issues name the model, so it can tell a signature replayed to another model. */
function mockSignature(model: string, seed: string): string {
  return Buffer.from(`mock-sig|${model}|${seed}`).toString('base64');
}

function mockSignatureModel(signature: string): string | undefined {
  const text = Buffer.from(signature, 'base64').toString('utf8');
  return text.startsWith('mock-sig|') ? text.split('|')[1] : undefined;
}

function readFixtureJson(name: string): Json | undefined {
  const url = new URL(name, FIXTURES);
  return existsSync(url) ? (JSON.parse(readFileSync(url, 'utf8')) as Json) : undefined;
}

/** Recorded chunks of a `.chunks.txt` sample (one JSON object per line). */
export function readFixtureChunks(name: string): Json[] | undefined {
  const url = new URL(name, FIXTURES);
  if (!existsSync(url)) return undefined;
  return readFileSync(url, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Json);
}

function textOf(content: Json | undefined): string {
  return content
    ? partsOf(content)
        .flatMap((p) => (typeof p['text'] === 'string' && !p['thought'] ? [p['text']] : []))
        .join('')
    : '';
}

function countTokens(value: unknown): number {
  return Math.max(1, Math.ceil(JSON.stringify(value ?? '').length / 4));
}

/** The answer as stream chunks; a non-streaming answer is these merged. Undefined: unknown replay sample. */
function reply(body: Json, model: string, stream: boolean): Chunk[] | undefined {
  const contents = body['contents'] as Json[];
  const last = contents.at(-1);
  const lastUser = [...contents].reverse().find((c) => c['role'] !== 'model');
  const userText = last && last['role'] !== 'model' ? textOf(last) : '';
  const replay = /\[replay:([\w.-]+)\]/.exec(textOf(lastUser))?.[1];
  if (replay) {
    if (stream) return readFixtureChunks(`${replay}.chunks.txt`) ?? wrap(readFixtureJson(`${replay}.json`));
    const json = readFixtureJson(`${replay}.json`);
    return json ? [json] : readFixtureChunks(`${replay}.chunks.txt`);
  }

  const config = (body['generationConfig'] ?? {}) as Json;
  const thinking = (config['thinkingConfig'] ?? {}) as Json;
  const major = majorVersion(model);
  const thinks = major === undefined || major >= 3 || model.startsWith('gemini-2.5');
  const thoughtsTokens = thinks ? 24 : 0;
  const promptTokens = countTokens([body['contents'], body['systemInstruction'], body['tools']]);
  const responseId = createHash('sha256').update(JSON.stringify(body)).update(model).digest('base64url').slice(0, 22);
  const envelope = { modelVersion: model, responseId };
  const usage = (candidatesTokens: number): Json => {
    const metadata: Json = {
      promptTokenCount: promptTokens,
      candidatesTokenCount: candidatesTokens,
      totalTokenCount: promptTokens + candidatesTokens + thoughtsTokens,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTokens }],
    };
    if (thoughtsTokens > 0) metadata['thoughtsTokenCount'] = thoughtsTokens;
    if (userText.includes('[cached]')) {
      const cached = Math.floor(promptTokens / 2);
      metadata['cachedContentTokenCount'] = cached;
      metadata['cacheTokensDetails'] = [{ modality: 'TEXT', tokenCount: cached }];
    }
    return metadata;
  };

  if (userText.includes('[blocked]')) {
    return [
      {
        promptFeedback: {
          blockReason: 'SAFETY',
          safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true }],
        },
        usageMetadata: { promptTokenCount: promptTokens, totalTokenCount: promptTokens },
        ...envelope,
      },
    ];
  }

  const candidateCount = typeof config['candidateCount'] === 'number' ? config['candidateCount'] : 1;
  const chunks: Chunk[] = [];
  let outputTokens = 0;
  for (let index = 0; index < candidateCount; index++) {
    const plan = planCandidate(body, model, userText, index, responseId, thinks);
    const thought = thinking['includeThoughts'] === true && thinks;
    const pieces: Json[][] = [];
    if (thought) pieces.push([{ text: `**Considering the request**\n\nThe user wrote: ${userText}`, thought: true }]);
    for (const piece of plan.pieces) pieces.push(piece);
    if (plan.pieces.length === 0 && !plan.finishReason.startsWith('STOP')) pieces.push([]);
    pieces.forEach((parts, i) => {
      outputTokens += parts.reduce((n, p) => n + (p['thought'] ? 0 : countTokens(p['text'] ?? p['functionCall'])), 0);
      const candidate: Json = { index };
      if (parts.length > 0) candidate['content'] = { parts, role: 'model' };
      if (i === pieces.length - 1) {
        candidate['finishReason'] = plan.finishReason;
        if (plan.finishMessage) candidate['finishMessage'] = plan.finishMessage;
        if (plan.safetyRatings) candidate['safetyRatings'] = plan.safetyRatings;
      }
      chunks.push({ candidates: [candidate], usageMetadata: usage(outputTokens), ...envelope });
    });
  }
  return chunks;
}

function wrap(json: Json | undefined): Chunk[] | undefined {
  return json ? [json] : undefined;
}

interface CandidatePlan {
  /** Parts per stream chunk. */
  pieces: Json[][];
  finishReason: string;
  finishMessage?: string;
  safetyRatings?: Json[];
}

function planCandidate(
  body: Json,
  model: string,
  userText: string,
  index: number,
  responseId: string,
  thinks: boolean,
): CandidatePlan {
  const config = (body['generationConfig'] ?? {}) as Json;
  const contents = body['contents'] as Json[];
  const last = contents.at(-1)!;
  const signature = (n: number) => mockSignature(model, `${responseId}:${index}:${n}`);

  if (userText.includes('[safety]')) {
    return {
      pieces: [],
      finishReason: 'SAFETY',
      safetyRatings: [
        { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'NEGLIGIBLE' },
        { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true },
      ],
    };
  }
  if (userText.includes('[malformed_call]')) {
    return { pieces: [], finishReason: 'MALFORMED_FUNCTION_CALL', finishMessage: 'Malformed function call: call:x{' };
  }

  const declarations = ((body['tools'] ?? []) as Json[]).flatMap((t) =>
    Array.isArray(t['functionDeclarations']) ? (t['functionDeclarations'] as Json[]) : [],
  );
  const callingConfig = ((body['toolConfig'] as Json | undefined)?.['functionCallingConfig'] ?? {}) as Json;
  const mode = callingConfig['mode'] ?? 'AUTO';
  const answered = partsOf(last).some((p) => p['functionResponse']);
  const wantsCall = userText.includes('[tool]') || userText.includes('[parallel]') || mode === 'ANY';
  if (declarations.length > 0 && mode !== 'NONE' && wantsCall && !answered) {
    const allowed = Array.isArray(callingConfig['allowedFunctionNames'])
      ? declarations.filter((d) => (callingConfig['allowedFunctionNames'] as unknown[]).includes(d['name']))
      : declarations;
    const chosen = allowed.length > 0 ? allowed : declarations;
    const parallel = userText.includes('[parallel]');
    const targets = parallel ? [chosen[0]!, chosen[1] ?? chosen[0]!] : [chosen[0]!];
    const parts = targets.map((declaration, n): Json => {
      const part: Json = {
        functionCall: { name: declaration['name'], args: valueFromSchema(declaration['parameters'], n) ?? {} },
      };
      // Only the first call of a parallel set is signed, as Gemini does.
      if (thinks && n === 0) part['thoughtSignature'] = signature(0);
      return part;
    });
    return { pieces: [parts], finishReason: 'STOP', finishMessage: 'Model generated function call(s).' };
  }

  let text: string;
  if (answered) {
    const names = partsOf(last).flatMap((p) =>
      p['functionResponse'] ? [String((p['functionResponse'] as Json)['name'])] : [],
    );
    text = `Received ${names.length} function result(s): ${names.join(', ')}.`;
  } else if (config['responseMimeType'] === 'application/json') {
    const schema = config['responseSchema'] ?? config['responseJsonSchema'];
    text = JSON.stringify(schema ? valueFromSchema(schema, 0) : { answer: userText });
  } else {
    text = userText === '' ? 'Hello from the mock Gemini.' : `Mock Gemini reply to: ${userText}`;
  }
  if (index > 0) text += ` (candidate ${index})`;

  let finishReason = 'STOP';
  for (const stop of Array.isArray(config['stopSequences']) ? (config['stopSequences'] as string[]) : []) {
    const at = text.indexOf(stop);
    if (at !== -1) text = text.slice(0, at);
  }
  const words = text.split(/(?<= )/);
  const limit = userText.includes('[max_tokens]')
    ? 3
    : typeof config['maxOutputTokens'] === 'number'
      ? config['maxOutputTokens']
      : Number.POSITIVE_INFINITY;
  if (words.length > limit) {
    words.length = limit;
    finishReason = 'MAX_TOKENS';
  }
  if (userText.includes('[recitation]')) finishReason = 'RECITATION';
  if (userText.includes('[other]')) finishReason = 'OTHER';

  // Three slices per answer, like Gemini's uneven stream chunks.
  const size = Math.max(1, Math.ceil(words.length / 3));
  const pieces: Json[][] = [];
  for (let i = 0; i < words.length; i += size) pieces.push([{ text: words.slice(i, i + size).join('') }]);
  if (pieces.length === 0) pieces.push([]);
  // Gemini 3 signs the last part of an answer without function calls; streams send it on an empty part.
  if (thinks) pieces.at(-1)!.push({ text: '', thoughtSignature: signature(1) });
  return { pieces, finishReason };
}

/** A deterministic value matching a Gemini (or JSON) schema; `variant` makes parallel calls differ. */
function valueFromSchema(schema: unknown, variant: number): unknown {
  if (!schema || typeof schema !== 'object') return undefined;
  const node = schema as Json;
  if (Array.isArray(node['enum']) && node['enum'].length > 0) return node['enum'][variant % node['enum'].length];
  if (Array.isArray(node['anyOf']) && node['anyOf'].length > 0) return valueFromSchema(node['anyOf'][0], variant);
  const type = String(node['type'] ?? (node['properties'] ? 'OBJECT' : 'STRING')).toUpperCase();
  switch (type) {
    case 'OBJECT': {
      const out: Json = {};
      for (const [name, value] of Object.entries((node['properties'] ?? {}) as Json)) {
        out[name] = valueFromSchema(value, variant);
      }
      return out;
    }
    case 'ARRAY':
      return [valueFromSchema(node['items'], variant)];
    case 'INTEGER':
    case 'NUMBER':
      return variant + 1;
    case 'BOOLEAN':
      return variant % 2 === 0;
    default:
      return variant === 0 ? 'alpha' : `alpha-${variant}`;
  }
}

/** One generateContent response from stream chunks: parts concatenated per candidate, the last word wins. */
export function mergeChunks(chunks: Chunk[]): Json {
  const merged: Json = {};
  const candidates = new Map<number, Json>();
  for (const chunk of chunks) {
    for (const [key, value] of Object.entries(chunk)) {
      if (key !== 'candidates') merged[key] = value;
    }
    for (const [position, raw] of ((chunk['candidates'] ?? []) as Json[]).entries()) {
      const index = typeof raw['index'] === 'number' ? raw['index'] : position;
      const target = candidates.get(index) ?? { index };
      candidates.set(index, target);
      for (const [key, value] of Object.entries(raw)) {
        if (key !== 'content') target[key] = value;
      }
      const parts = partsOf((raw['content'] ?? {}) as Json);
      if (parts.length === 0) continue;
      if (!target['content']) target['content'] = { parts: [], role: 'model' };
      const content = target['content'] as Json;
      const into = content['parts'] as Json[];
      for (const part of parts) {
        const previous = into.at(-1);
        const sameKind = previous && typeof previous['text'] === 'string' && typeof part['text'] === 'string';
        if (sameKind && Boolean(previous['thought']) === Boolean(part['thought']) && !previous['thoughtSignature']) {
          previous['text'] = String(previous['text']) + String(part['text']);
          if (part['thoughtSignature']) previous['thoughtSignature'] = part['thoughtSignature'];
        } else {
          into.push({ ...part });
        }
      }
    }
  }
  if (candidates.size > 0)
    merged['candidates'] = [...candidates.values()].sort((a, b) => Number(a['index']) - Number(b['index']));
  return merged;
}
