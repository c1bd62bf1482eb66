/**
 * A protocol-faithful mock of AWS Bedrock Runtime's Converse and ConverseStream, on a real HTTP server.
 *
 * - `POST /model/{modelId}/converse` answers JSON; `POST /model/{modelId}/converse-stream` answers
 *   `application/vnd.amazon.eventstream` binary frames encoded by @smithy/eventstream-codec (headers
 *   `:event-type`, `:content-type: application/json`, `:message-type: event`; exceptions as
 *   `:message-type: exception` with `:exception-type`), each event payload padded with a `p` field as the real
 *   service does.
 * - Authentication is checked like AWS does it: a SigV4 signature is re-computed with the known test
 *   credentials by @smithy/signature-v4 and compared (unknown key → 403 UnrecognizedClientException, wrong
 *   signature or a body that does not match its signed hash → 403 InvalidSignatureException), or a Bedrock API
 *   key arrives as `Authorization: Bearer`.
 * - Replies are synthesized deterministically from the request (text, tool calls, reasoning, JSON for
 *   outputConfig, stop sequences, max_tokens, prompt-cache usage), or replay a recorded sample from
 *   test/fixtures/wire/amazon-bedrock when the last user text contains `[[fixture:NAME]]`.
 * - Triggers in the last user text: `[[tools]]` (call the first declared tool), `[[parallel]]` (call every
 *   declared tool), `[[reasoning]]`, `[[guardrail]]`, `[[content-filtered]]`, `[[context-window]]`,
 *   `[[malformed-tool]]`, `[[stream-exception:throttlingException]]` (a stream sends a few events then that
 *   exception; Converse answers it as an HTTP error).
 * - Errors carry the real `x-amzn-ErrorType` header and `{"message": ...}` body; faults come from a FaultQueue.
 *
 * It is checked by @aws-sdk/client-bedrock-runtime acting as its client (test/providers/bedrock/mock-sdk.test.ts).
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server, type Http2ServerRequest, constants as http2Constants } from 'node:http2';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { answerInvokeModel } from './bedrock-embeddings.ts';
import { type Fault, FaultQueue, sleep } from './faults.ts';

type Json = Record<string, unknown>;

export interface MockBedrockCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export const MOCK_BEDROCK_REGION = 'us-east-1';
export const MOCK_BEDROCK_CREDENTIALS: MockBedrockCredentials = {
  accessKeyId: 'AKIAMOCKBEDROCK00001',
  secretAccessKey: 'mock/secret/access/key/for/tests/000000',
};
export const MOCK_BEDROCK_SESSION_CREDENTIALS: MockBedrockCredentials = {
  accessKeyId: 'ASIAMOCKBEDROCK00002',
  secretAccessKey: 'mock/secret/for/session/credentials/0000',
  sessionToken: 'mock-session-token-IQoJb3JpZ2luX2VjEMockToken',
};
/** Bedrock API keys are base64 text starting `ABSK`. */
export const MOCK_BEDROCK_API_KEY = 'ABSKbW9jay1iZWRyb2NrLWFwaS1rZXktZm9yLXRlc3Rz';

export const FIXTURE_DIR = new URL('../fixtures/wire/amazon-bedrock/', import.meta.url);

export interface MockBedrockOptions {
  region?: string;
  /** Accepted AWS credentials; defaults to MOCK_BEDROCK_CREDENTIALS and MOCK_BEDROCK_SESSION_CREDENTIALS. */
  credentials?: MockBedrockCredentials[];
  /** Accepted Bedrock API keys; defaults to MOCK_BEDROCK_API_KEY. */
  apiKeys?: string[];
  faults?: FaultQueue;
  /** Prompts with more tokens than this get "Input is too long for requested model." */
  contextWindow?: number;
  /** How stream frames are written: one write each, several pieces each, or all frames in one write. */
  streamWrites?: 'frame' | 'split' | 'coalesced';
}

export interface RecordedBedrockRequest {
  operation: 'Converse' | 'ConverseStream' | 'InvokeModel';
  modelId: string;
  /** The request path exactly as received (still percent-encoded). */
  rawPath: string;
  headers: IncomingMessage['headers'];
  rawBody: Buffer;
  /** Parsed body, or undefined when it was not JSON. */
  body: Json | undefined;
  auth: 'sigv4' | 'bearer' | 'none';
}

export interface MockBedrock {
  url: string;
  region: string;
  requests: RecordedBedrockRequest[];
  faults: FaultQueue;
  close(): Promise<void>;
}

// ---------- errors ----------

const ERROR_NAMESPACE = 'http://internal.amazon.com/coral/com.amazon.bedrock/';
const CORAL_NAMESPACE = 'http://internal.amazon.com/coral/com.amazon.coral.service/';

/** The error each status gets when a fault names only the status. */
export const DEFAULT_ERRORS: Record<number, { type: string; message: string }> = {
  400: { type: 'ValidationException', message: 'Malformed input request, please reformat your input and try again.' },
  403: { type: 'AccessDeniedException', message: "You don't have access to the model with the specified model ID." },
  404: {
    type: 'ResourceNotFoundException',
    message: 'Could not resolve the foundation model from the provided model identifier.',
  },
  408: {
    type: 'ModelTimeoutException',
    message: 'Model has timed out in processing the request. Try your request again.',
  },
  424: {
    type: 'ModelErrorException',
    message: 'The system encountered an unexpected error during processing. Try your request again.',
  },
  429: { type: 'ThrottlingException', message: 'Too many requests, please wait before trying again.' },
  500: {
    type: 'InternalServerException',
    message: 'The system encountered an unexpected error during processing. Try your request again.',
  },
  503: { type: 'ServiceUnavailableException', message: 'Bedrock is unable to process your request.' },
};

/** Stream exceptions (lower camel, as `:exception-type` spells them) and their messages. */
export const STREAM_EXCEPTIONS: Record<string, { status: number; body: Json }> = {
  throttlingException: { status: 429, body: { message: 'Too many tokens, please wait before trying again.' } },
  modelStreamErrorException: {
    status: 424,
    body: { message: 'Model Stream Error', originalStatusCode: 500, originalMessage: 'The model stream failed.' },
  },
  validationException: { status: 400, body: { message: 'Input is too long for requested model.' } },
  internalServerException: { status: 500, body: { message: 'The system encountered an unexpected error.' } },
  serviceUnavailableException: { status: 503, body: { message: 'Bedrock is unable to process your request.' } },
};

class MockError extends Error {
  readonly status: number;
  readonly type: string;
  readonly namespace: string;
  readonly body: Json;
  constructor(status: number, type: string, message: string, namespace = ERROR_NAMESPACE, extra: Json = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.namespace = namespace;
    this.body = { message, ...extra };
  }
}

function sendError(res: ServerResponse, error: MockError, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(error.body);
  res.writeHead(error.status, {
    'content-type': 'application/json',
    'x-amzn-requestid': randomUUID(),
    'x-amzn-errortype': `${error.type}:${error.namespace}`,
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

const validation = (message: string) => new MockError(400, 'ValidationException', message);

// ---------- authentication ----------

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;:-]+),\s*Signature=([0-9a-f]{64})$/;
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

function parseAmzDate(value: string | undefined): Date | undefined {
  const match = value ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value) : null;
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  // HTTP/2 carries the host as the `:authority` pseudo-header.
  const value = req.headers[name] ?? (name === 'host' ? req.headers[':authority'] : undefined);
  return Array.isArray(value) ? value.join(',') : value;
}

async function authenticate(
  req: IncomingMessage,
  rawBody: Buffer,
  options: Required<Pick<MockBedrockOptions, 'credentials' | 'apiKeys'>> & { region: string },
): Promise<'sigv4' | 'bearer'> {
  const authorization = headerValue(req, 'authorization');
  if (!authorization) {
    throw new MockError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token', CORAL_NAMESPACE);
  }
  if (authorization.startsWith('Bearer ')) {
    if (options.apiKeys.includes(authorization.slice(7))) return 'bearer';
    throw new MockError(
      403,
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
      CORAL_NAMESPACE,
    );
  }
  const match = AUTHORIZATION.exec(authorization);
  if (!match) {
    throw new MockError(
      403,
      'IncompleteSignatureException',
      `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.`,
      CORAL_NAMESPACE,
    );
  }
  const [, accessKeyId, , region, service, signedList, signature] = match as unknown as string[];
  const credentials = options.credentials.find((c) => c.accessKeyId === accessKeyId);
  const token = headerValue(req, 'x-amz-security-token');
  if (!credentials || (credentials.sessionToken ?? undefined) !== (token ?? undefined)) {
    throw new MockError(
      403,
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
      CORAL_NAMESPACE,
    );
  }
  if (region !== options.region) {
    throw new MockError(
      403,
      'InvalidSignatureException',
      `Credential should be scoped to a valid region. `,
      CORAL_NAMESPACE,
    );
  }
  if (service !== 'bedrock') {
    throw new MockError(
      403,
      'InvalidSignatureException',
      "Credential should be scoped to correct service: 'bedrock'. ",
      CORAL_NAMESPACE,
    );
  }
  const signingDate = parseAmzDate(headerValue(req, 'x-amz-date'));
  if (!signingDate) throw new MockError(403, 'IncompleteSignatureException', 'Missing x-amz-date.', CORAL_NAMESPACE);
  if (Math.abs(Date.now() - signingDate.getTime()) > 5 * 60_000) {
    throw new MockError(403, 'InvalidSignatureException', 'Signature expired.', CORAL_NAMESPACE);
  }
  // A signed payload hash must be the hash of the body that actually arrived.
  const claimedHash = headerValue(req, 'x-amz-content-sha256');
  const bodyHash = createHash('sha256').update(rawBody).digest('hex');
  if (claimedHash !== undefined && claimedHash !== 'UNSIGNED-PAYLOAD' && claimedHash !== bodyHash) {
    throw new MockError(403, 'InvalidSignatureException', SIGNATURE_MISMATCH, CORAL_NAMESPACE);
  }

  const names = signedList!.split(';');
  const headers: Record<string, string> = {};
  for (const name of names) headers[name] = headerValue(req, name) ?? '';
  const url = new URL(req.url ?? '/', 'http://mock');
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  const rawPath = (req.url ?? '/').split('?')[0]!;
  const signer = new SignatureV4({
    service: 'bedrock',
    region: options.region,
    credentials,
    sha256: Hash.bind(null, 'sha256'),
    // The client chose whether to send a payload hash header; re-signing must not add one.
    applyChecksum: false,
  });
  const resigned = await signer.sign(
    { method: req.method ?? 'POST', protocol: 'http:', hostname: 'mock', path: rawPath, query, headers, body: rawBody },
    { signingDate, signableHeaders: new Set(names) },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(resigned.headers['authorization']))?.[1];
  const expectedList = /SignedHeaders=([a-z0-9;:-]+)/.exec(String(resigned.headers['authorization']))?.[1];
  if (expected !== signature || expectedList !== signedList) {
    throw new MockError(403, 'InvalidSignatureException', SIGNATURE_MISMATCH, CORAL_NAMESPACE);
  }
  return 'sigv4';
}

// ---------- deterministic tokens ----------

/** A token is a run of non-space characters with its trailing space: exact, cheap, and easy to cut at. */
export function mockTokens(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

const IMAGE_TOKENS = 100;

function blockTokens(block: unknown): number {
  if (!block || typeof block !== 'object') return 0;
  const b = block as Json;
  if (typeof b['text'] === 'string') return mockTokens(b['text']).length;
  if (b['image']) return IMAGE_TOKENS;
  if (b['toolUse']) return mockTokens(JSON.stringify((b['toolUse'] as Json)['input'] ?? {})).length + 3;
  if (b['toolResult']) {
    const content = ((b['toolResult'] as Json)['content'] as unknown[]) ?? [];
    return content.reduce<number>((sum, part) => sum + blockTokens(part), 0) + 3;
  }
  if (b['reasoningContent']) {
    const text = ((b['reasoningContent'] as Json)['reasoningText'] as Json | undefined)?.['text'];
    return typeof text === 'string' ? mockTokens(text).length : 0;
  }
  if (b['json']) return mockTokens(JSON.stringify(b['json'])).length;
  return 0;
}

/** Prompt tokens, and the tokens up to the last cache point (with a key for that prefix). */
export function promptTokens(body: Json): { total: number; cachedPrefix: number; prefixKey: string | undefined } {
  let total = 0;
  let cachedPrefix = 0;
  const prefix = createHash('sha256');
  let prefixKey: string | undefined;
  const visit = (block: unknown) => {
    if (block && typeof block === 'object' && 'cachePoint' in block) {
      cachedPrefix = total;
      prefixKey = prefix.copy().digest('hex');
      return;
    }
    total += blockTokens(block);
    prefix.update(JSON.stringify(block));
  };
  const tools = ((body['toolConfig'] as Json | undefined)?.['tools'] as unknown[]) ?? [];
  for (const tool of tools) {
    if (tool && typeof tool === 'object' && 'cachePoint' in tool) visit(tool);
    else {
      total += mockTokens(JSON.stringify(tool)).length;
      prefix.update(JSON.stringify(tool));
    }
  }
  for (const block of (body['system'] as unknown[]) ?? []) visit(block);
  for (const message of (body['messages'] as Json[]) ?? []) {
    total += 3;
    for (const block of (message['content'] as unknown[]) ?? []) visit(block);
  }
  return { total, cachedPrefix, prefixKey };
}

// ---------- request checks (the ValidationExceptions Converse really raises) ----------

function checkRequest(body: Json | undefined): Json {
  if (!body) throw new MockError(400, 'SerializationException', 'Unexpected token in request body.');
  const messages = body['messages'];
  if (!Array.isArray(messages) || messages.length === 0) {
    throw validation(
      'A conversation must start with a user message. Try again with a conversation that starts with a user message.',
    );
  }
  let previous: string | undefined;
  let usesTools = false;
  messages.forEach((message: Json, i) => {
    const role = message['role'];
    if (role !== 'user' && role !== 'assistant') throw validation(`Invalid role at messages.${i}.`);
    if (i === 0 && role !== 'user') {
      throw validation(
        'A conversation must start with a user message. Try again with a conversation that starts with a user message.',
      );
    }
    if (role === previous) {
      throw validation(
        'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.',
      );
    }
    previous = role as string;
    const content = message['content'];
    if (!Array.isArray(content) || content.length === 0) {
      throw validation(
        `The content field in the Message object at messages.${i} is empty. Add a ContentBlock object to the content field and try again.`,
      );
    }
    content.forEach((block: Json, j) => {
      if (typeof block['text'] === 'string' && block['text'].trim() === '') {
        throw validation(
          `The text field in the ContentBlock object at messages.${i}.content.${j} is blank. Add text to the text field, and try again.`,
        );
      }
      if (block['toolUse'] || block['toolResult']) usesTools = true;
      if (block['image'] && role !== 'user') throw validation('Images are only supported in user messages.');
    });
  });
  const toolConfig = body['toolConfig'] as Json | undefined;
  if (usesTools && !toolConfig) {
    throw validation('The toolConfig field must be defined when using toolUse and toolResult content blocks.');
  }
  const toolNames = ((toolConfig?.['tools'] as Json[]) ?? [])
    .map((tool) => (tool['toolSpec'] as Json | undefined)?.['name'])
    .filter((name) => typeof name === 'string');
  const forced = ((toolConfig?.['toolChoice'] as Json | undefined)?.['tool'] as Json | undefined)?.['name'];
  if (typeof forced === 'string' && !toolNames.includes(forced)) {
    throw validation(`The tool ${forced} specified in toolChoice is not defined in toolConfig.`);
  }
  return body;
}

// ---------- replies ----------

type ReplyBlock =
  | { kind: 'text'; text: string }
  | { kind: 'reasoning'; text: string; signature: string }
  | { kind: 'toolUse'; id: string; name: string; input: unknown };

interface Reply {
  blocks: ReplyBlock[];
  stopReason: string;
  stopSequence?: string;
  usage: Json;
}

function lastUserText(body: Json): string {
  const messages = body['messages'] as Json[];
  const last = messages.at(-1);
  if (last?.['role'] !== 'user') return '';
  return ((last['content'] as Json[]) ?? [])
    .map((block) => (typeof block['text'] === 'string' ? block['text'] : ''))
    .join('\n');
}

function lastUserToolResults(body: Json): number {
  const last = (body['messages'] as Json[]).at(-1);
  if (last?.['role'] !== 'user') return 0;
  return ((last['content'] as Json[]) ?? []).filter((block) => block['toolResult']).length;
}

/** A value that satisfies a JSON Schema, deterministically. */
export function sampleFromSchema(schema: unknown): unknown {
  if (!schema || typeof schema !== 'object') return null;
  const s = schema as Json;
  if (Array.isArray(s['enum'])) return s['enum'][0];
  if ('const' in s) return s['const'];
  for (const key of ['anyOf', 'oneOf', 'allOf']) {
    if (Array.isArray(s[key]) && s[key].length > 0) return sampleFromSchema(s[key][0]);
  }
  const type = Array.isArray(s['type']) ? s['type'][0] : s['type'];
  switch (type) {
    case 'object': {
      const out: Json = {};
      const properties = (s['properties'] as Json | undefined) ?? {};
      for (const [name, child] of Object.entries(properties)) out[name] = sampleFromSchema(child);
      return out;
    }
    case 'array':
      return [sampleFromSchema(s['items'])];
    case 'string':
      return 'Paris';
    case 'integer':
    case 'number':
      return 42;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return s['properties'] ? sampleFromSchema({ ...s, type: 'object' }) : null;
  }
}

export const MOCK_REPLY_TEXT = 'Hello from the mock Bedrock model. It has nothing else to say today.';

function planReply(body: Json, requestIndex: number, cache: Set<string>): Reply {
  const text = lastUserText(body);
  const toolConfig = body['toolConfig'] as Json | undefined;
  const tools = ((toolConfig?.['tools'] as Json[]) ?? [])
    .map((tool) => tool['toolSpec'] as Json | undefined)
    .filter((spec): spec is Json => spec !== undefined);
  const choice = toolConfig?.['toolChoice'] as Json | undefined;
  const inference = (body['inferenceConfig'] as Json | undefined) ?? {};
  const additional = (body['additionalModelRequestFields'] as Json | undefined) ?? {};
  const thinking = additional['thinking'] as Json | undefined;
  const outputFormat = ((body['outputConfig'] as Json | undefined)?.['textFormat'] as Json | undefined)?.[
    'structure'
  ] as Json | undefined;

  const blocks: ReplyBlock[] = [];
  let stopReason = 'end_turn';
  if (text.includes('[[reasoning]]') || thinking?.['type'] === 'enabled') {
    const thought = 'The user wants an answer. I will think briefly, then answer.';
    blocks.push({ kind: 'reasoning', text: thought, signature: Buffer.from(`sig:${thought}`).toString('base64') });
  }

  const toolUse = (spec: Json, i: number): ReplyBlock => ({
    kind: 'toolUse',
    id: `tooluse_mock${requestIndex}x${i}`,
    name: String(spec['name']),
    input: sampleFromSchema((spec['inputSchema'] as Json | undefined)?.['json']),
  });
  const forcedName = (choice?.['tool'] as Json | undefined)?.['name'];
  const wantsTools =
    tools.length > 0 &&
    lastUserToolResults(body) === 0 &&
    (text.includes('[[tools]]') || text.includes('[[parallel]]') || choice?.['any'] !== undefined || forcedName);

  if (text.includes('[[guardrail]]')) {
    blocks.push({ kind: 'text', text: 'Sorry, the model cannot answer this question.' });
    stopReason = 'guardrail_intervened';
  } else if (text.includes('[[content-filtered]]')) {
    stopReason = 'content_filtered';
  } else if (text.includes('[[malformed-tool]]')) {
    stopReason = 'malformed_tool_use';
  } else if (wantsTools) {
    const chosen = forcedName
      ? tools.filter((spec) => spec['name'] === forcedName)
      : text.includes('[[parallel]]')
        ? tools
        : tools.slice(0, 1);
    if (!forcedName) blocks.push({ kind: 'text', text: 'Let me call a tool for that.' });
    chosen.forEach((spec, i) => {
      blocks.push(toolUse(spec, i));
    });
    stopReason = 'tool_use';
  } else if (outputFormat?.['jsonSchema']) {
    const schema = JSON.parse(String((outputFormat['jsonSchema'] as Json)['schema'])) as unknown;
    blocks.push({ kind: 'text', text: JSON.stringify(sampleFromSchema(schema)) });
  } else if (lastUserToolResults(body) > 0) {
    blocks.push({ kind: 'text', text: `I received ${lastUserToolResults(body)} tool result(s). The weather is fine.` });
  } else {
    blocks.push({ kind: 'text', text: MOCK_REPLY_TEXT });
  }
  if (text.includes('[[context-window]]')) stopReason = 'model_context_window_exceeded';

  // Stop sequences and max_tokens cut the text answer, as a model would.
  let stopSequence: string | undefined;
  const stops = (inference['stopSequences'] as string[] | undefined) ?? [];
  const textBlock = blocks.find((block) => block.kind === 'text');
  if (textBlock && textBlock.kind === 'text') {
    for (const stop of stops) {
      const at = textBlock.text.indexOf(stop);
      if (at >= 0) {
        textBlock.text = textBlock.text.slice(0, at);
        stopReason = 'stop_sequence';
        stopSequence = stop;
        break;
      }
    }
  }
  const maxTokens = typeof inference['maxTokens'] === 'number' ? inference['maxTokens'] : undefined;
  let output = 0;
  for (const block of blocks) {
    const tokens =
      block.kind === 'toolUse' ? mockTokens(JSON.stringify(block.input)).length + 3 : mockTokens(block.text).length;
    if (block.kind === 'text' && maxTokens !== undefined && output + tokens > maxTokens) {
      block.text = mockTokens(block.text)
        .slice(0, Math.max(0, maxTokens - output))
        .join('');
      output = maxTokens;
      stopReason = 'max_tokens';
      break;
    }
    output += tokens;
  }
  const kept = blocks.filter((block) => block.kind !== 'text' || block.text !== '');

  const prompt = promptTokens(body);
  let cacheRead = 0;
  let cacheWrite = 0;
  if (prompt.prefixKey && prompt.cachedPrefix > 0) {
    if (cache.has(prompt.prefixKey)) cacheRead = prompt.cachedPrefix;
    else {
      cache.add(prompt.prefixKey);
      cacheWrite = prompt.cachedPrefix;
    }
  }
  const input = prompt.total - cacheRead - cacheWrite;
  const usage = {
    inputTokens: input,
    outputTokens: output,
    totalTokens: input + output + cacheRead + cacheWrite,
    cacheReadInputTokens: cacheRead,
    cacheWriteInputTokens: cacheWrite,
  };
  return { blocks: kept, stopReason, ...(stopSequence ? { stopSequence } : {}), usage };
}

function responseFields(body: Json, reply: Reply, stream: boolean): Json | undefined {
  const paths = body['additionalModelResponseFieldPaths'];
  if (!Array.isArray(paths) || !paths.some((path) => String(path).endsWith('stop_sequence'))) return undefined;
  const value = reply.stopSequence ?? null;
  return stream ? { delta: { stop_sequence: value } } : { stop_sequence: value };
}

function converseBody(body: Json, reply: Reply): Json {
  const content = reply.blocks.map((block) => {
    if (block.kind === 'text') return { text: block.text };
    if (block.kind === 'reasoning') {
      return { reasoningContent: { reasoningText: { text: block.text, signature: block.signature } } };
    }
    return { toolUse: { toolUseId: block.id, name: block.name, input: block.input } };
  });
  const fields = responseFields(body, reply, false);
  return {
    ...(fields ? { additionalModelResponseFields: fields } : {}),
    metrics: { latencyMs: 1 },
    output: { message: { content, role: 'assistant' } },
    stopReason: reply.stopReason,
    usage: reply.usage,
  };
}

/** Stream events (event type, payload) in the order Bedrock sends them: metadata last. */
function streamEvents(body: Json, reply: Reply): Array<[string, Json]> {
  const events: Array<[string, Json]> = [['messageStart', { role: 'assistant' }]];
  reply.blocks.forEach((block, index) => {
    if (block.kind === 'text') {
      for (const piece of mockTokens(block.text)) {
        events.push(['contentBlockDelta', { contentBlockIndex: index, delta: { text: piece } }]);
      }
    } else if (block.kind === 'reasoning') {
      for (const piece of mockTokens(block.text)) {
        events.push(['contentBlockDelta', { contentBlockIndex: index, delta: { reasoningContent: { text: piece } } }]);
      }
      events.push([
        'contentBlockDelta',
        { contentBlockIndex: index, delta: { reasoningContent: { signature: block.signature } } },
      ]);
    } else {
      events.push([
        'contentBlockStart',
        { contentBlockIndex: index, start: { toolUse: { toolUseId: block.id, name: block.name } } },
      ]);
      const input = JSON.stringify(block.input);
      // Input arrives as JSON text in fragments; an empty input object arrives as no fragment at all.
      if (input !== '{}') {
        const cut = Math.ceil(input.length / 2);
        for (const piece of [input.slice(0, cut), input.slice(cut)]) {
          events.push(['contentBlockDelta', { contentBlockIndex: index, delta: { toolUse: { input: piece } } }]);
        }
      }
    }
    events.push(['contentBlockStop', { contentBlockIndex: index }]);
  });
  const fields = responseFields(body, reply, true);
  events.push([
    'messageStop',
    { stopReason: reply.stopReason, ...(fields ? { additionalModelResponseFields: fields } : {}) },
  ]);
  events.push(['metadata', { usage: reply.usage, metrics: { latencyMs: 1 } }]);
  return events;
}

// ---------- fixtures ----------

export function readFixtureEvents(name: string): Array<[string, Json]> {
  const text = readFileSync(new URL(`${name}.chunks.txt`, FIXTURE_DIR), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [eventType, payload] = Object.entries(JSON.parse(line) as Json)[0]!;
      return [eventType, payload as Json];
    });
}

export function readFixtureBody(name: string): string {
  return readFileSync(new URL(`${name}.json`, FIXTURE_DIR), 'utf8');
}

// ---------- event-stream framing ----------

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const PADDING = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** One event message; payloads carry Bedrock's length-hiding `p` padding. */
export function encodeEvent(eventType: string, payload: Json, pad = true): Uint8Array {
  const body = pad
    ? { ...payload, p: PADDING.slice(0, 1 + (JSON.stringify(payload).length % PADDING.length)) }
    : payload;
  return codec.encode({
    headers: {
      ':event-type': { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: fromUtf8(JSON.stringify(body)),
  });
}

export function encodeException(exceptionType: string, body: Json): Uint8Array {
  return codec.encode({
    headers: {
      ':exception-type': { type: 'string', value: exceptionType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'exception' },
    },
    body: fromUtf8(JSON.stringify(body)),
  });
}

// ---------- server ----------

const ROUTE = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/;

async function readRequestBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parseJson(raw: Buffer): Json | undefined {
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}

function wait(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => res.once('close', () => resolve()));
}

export async function startMockBedrock(options: MockBedrockOptions = {}): Promise<MockBedrock> {
  const region = options.region ?? MOCK_BEDROCK_REGION;
  const credentials = options.credentials ?? [MOCK_BEDROCK_CREDENTIALS, MOCK_BEDROCK_SESSION_CREDENTIALS];
  const apiKeys = options.apiKeys ?? [MOCK_BEDROCK_API_KEY];
  const faults = options.faults ?? new FaultQueue();
  const contextWindow = options.contextWindow ?? 200_000;
  const streamWrites = options.streamWrites ?? 'frame';
  const requests: RecordedBedrockRequest[] = [];
  const cache = new Set<string>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rawBody = await readRequestBody(req);
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const route = ROUTE.exec(rawPath);
    const body = parseJson(rawBody);
    const authorization = headerValue(req, 'authorization') ?? '';
    const record: RecordedBedrockRequest = {
      operation:
        route?.[2] === 'converse-stream' ? 'ConverseStream' : route?.[2] === 'invoke' ? 'InvokeModel' : 'Converse',
      modelId: route ? decodeURIComponent(route[1]!) : '',
      rawPath,
      headers: req.headers,
      rawBody,
      body,
      auth: authorization.startsWith('Bearer ') ? 'bearer' : authorization ? 'sigv4' : 'none',
    };
    requests.push(record);
    const requestIndex = requests.length;

    const fault = faults.next();
    if (fault && (await applyEarlyFault(fault, req, res))) return;

    if (req.method !== 'POST' || !route) {
      return sendError(res, new MockError(404, 'UnknownOperationException', 'Unknown operation', CORAL_NAMESPACE));
    }
    try {
      await authenticate(req, rawBody, { credentials, apiKeys, region });
      if (record.operation === 'InvokeModel') {
        const answer = answerInvokeModel(record.modelId, body);
        if (!answer.ok) throw validation(answer.message);
        return await sendJson(req, res, JSON.stringify(answer.body), fault, {
          'x-amzn-bedrock-input-token-count': String(answer.tokens),
        });
      }
      const checked = checkRequest(body);
      if (promptTokens(checked).total > contextWindow) throw validation('Input is too long for requested model.');
      const text = lastUserText(checked);
      const exception = /\[\[stream-exception:(\w+)\]\]/.exec(text)?.[1];
      const fixture = /\[\[fixture:([\w.-]+)\]\]/.exec(text)?.[1];
      if (record.operation === 'Converse') {
        if (exception) {
          const known = STREAM_EXCEPTIONS[exception];
          const type = exception[0]!.toUpperCase() + exception.slice(1);
          throw new MockError(known?.status ?? 500, type, String(known?.body['message'] ?? 'Error'));
        }
        const json = fixture
          ? readFixtureBody(fixture)
          : JSON.stringify(converseBody(checked, planReply(checked, requestIndex, cache)));
        return await sendJson(req, res, json, fault);
      }
      const events = fixture
        ? readFixtureEvents(fixture)
        : streamEvents(checked, planReply(checked, requestIndex, cache));
      const frames = events.map(([type, payload]) => encodeEvent(type, payload));
      if (exception) {
        frames.splice(
          Math.min(2, frames.length),
          frames.length,
          encodeException(exception, STREAM_EXCEPTIONS[exception]?.body ?? { message: 'Error' }),
        );
      }
      return await sendStream(req, res, frames, fault, streamWrites);
    } catch (err) {
      if (err instanceof MockError) return sendError(res, err);
      throw err;
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, new MockError(500, 'InternalServerException', String(err)));
      else abort(req);
    });
  };
  const http1 = createServer(onRequest);
  // The HTTP/2 compatibility API mirrors IncomingMessage/ServerResponse closely enough for this handler.
  const http2 = createHttp2Server(onRequest as unknown as Parameters<typeof createHttp2Server>[0]);
  const sockets = new Set<Socket>();
  const front = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', (first) => {
      socket.pause();
      socket.unshift(first);
      (first.subarray(0, 3).toString('latin1') === 'PRI' ? http2 : http1).emit('connection', socket);
      process.nextTick(() => socket.resume());
    });
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const { port } = front.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    region,
    requests,
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        http1.close();
        http2.close();
        front.close(() => resolve());
      }),
  };
}

/** Drops the connection (HTTP/1.1) or resets the stream (HTTP/2) without an answer. */
function abort(req: IncomingMessage): void {
  const stream = (req as unknown as Http2ServerRequest).stream;
  if (stream) stream.close(http2Constants.NGHTTP2_INTERNAL_ERROR);
  else req.socket.destroy();
}

/** Faults that replace the answer entirely; returns true when the request was handled. */
async function applyEarlyFault(fault: Fault, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  switch (fault.kind) {
    case 'status': {
      const known = DEFAULT_ERRORS[fault.status] ?? { type: 'InternalServerException', message: 'Error' };
      if (fault.body !== undefined) {
        const body = typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body);
        res.writeHead(fault.status, {
          'content-type': 'application/json',
          'x-amzn-requestid': randomUUID(),
          'x-amzn-errortype': `${known.type}:${ERROR_NAMESPACE}`,
          ...fault.headers,
        });
        res.end(body);
      } else {
        sendError(res, new MockError(fault.status, known.type, known.message), fault.headers);
      }
      return true;
    }
    case 'delay':
      await sleep(fault.ms);
      return false;
    case 'hang':
      await wait(res);
      return true;
    case 'reset':
      abort(req);
      return true;
    case 'garbage-body':
      res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID() });
      res.end('<html>Bad gateway</html>');
      return true;
    default:
      return false;
  }
}

/** Writes and waits until the bytes are handed to the socket, so a reset that follows cannot drop them. */
function write(res: ServerResponse, chunk: Uint8Array | string): Promise<void> {
  return new Promise((resolve) => res.write(chunk, () => resolve()));
}

async function sendJson(
  req: IncomingMessage,
  res: ServerResponse,
  json: string,
  fault: Fault | undefined,
  extra: Record<string, string> = {},
): Promise<void> {
  const headers = { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID(), ...extra };
  if (fault?.kind === 'reset-mid-stream' || fault?.kind === 'malformed-stream' || fault?.kind === 'stall-mid-stream') {
    // A non-streaming body cut in half: the length promises more than arrives.
    res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(json) });
    await write(res, json.slice(0, Math.floor(json.length / 2)));
    if (fault.kind === 'stall-mid-stream') await wait(res);
    else abort(req);
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

async function sendStream(
  req: IncomingMessage,
  res: ServerResponse,
  frames: Uint8Array[],
  fault: Fault | undefined,
  writes: 'frame' | 'split' | 'coalesced',
): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': randomUUID() });
  if (!(req as unknown as Http2ServerRequest).stream) res.socket?.setNoDelay(true);
  const cutAt =
    fault?.kind === 'reset-mid-stream' || fault?.kind === 'malformed-stream' || fault?.kind === 'stall-mid-stream'
      ? fault.afterEvents
      : frames.length;
  const sent = frames.slice(0, cutAt);
  if (writes === 'coalesced') {
    if (sent.length > 0) await write(res, Buffer.concat(sent));
  } else {
    for (const frame of sent) {
      if (writes === 'split') {
        // Three pieces per frame, the first cutting through the 12-byte prelude.
        for (const piece of [frame.subarray(0, 5), frame.subarray(5, 20), frame.subarray(20)]) {
          if (piece.length === 0) continue;
          await write(res, piece);
          await new Promise((resolve) => setImmediate(resolve));
        }
      } else {
        await write(res, frame);
      }
    }
  }
  if (fault?.kind === 'reset-mid-stream') {
    abort(req);
    return;
  }
  if (fault?.kind === 'malformed-stream') {
    // A frame whose message checksum is wrong.
    const bad = Buffer.from(encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'x' } }));
    bad.writeUInt8(bad[bad.length - 1]! ^ 0xff, bad.length - 1);
    res.end(bad);
    return;
  }
  if (fault?.kind === 'stall-mid-stream') {
    await wait(res);
    return;
  }
  res.end();
}
