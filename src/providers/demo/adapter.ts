import { createHash } from 'node:crypto';
import type { ChatRequest, ChatResponse, Choice, StreamEvent, ToolCall, Usage } from '../../core/ir.ts';
import type { TokenCounter } from '../../tokens/token-counter.ts';
import { promptTokens, textTokens } from '../../tokens/tokens.ts';
import type { CallContext, ProviderAdapter, UpstreamTarget } from '../types.ts';
import { demoEmbeddings } from './embeddings.ts';

/**
 * The built-in `demo` provider: answers in-process, deterministically, so a fresh install routes, streams,
 * calls tools and meters with no key and no network. Every reply says it comes from the demo provider.
 * Token counts are real (the same tokenizer as context checks), so costs are what a real model would charge.
 */

function lastUserText(request: ChatRequest): string {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const message = request.messages[i]!;
    if (message.role === 'user') {
      return message.content.map((part) => (part.type === 'text' ? part.text : '[image]')).join(' ');
    }
  }
  return '';
}

function shorten(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** A value that satisfies a JSON Schema well enough for a demo (required properties, right types). */
export function sampleFromSchema(schema: unknown, depth = 0): unknown {
  const s = (schema ?? {}) as Record<string, unknown>;
  if (depth > 6) return null;
  if (Array.isArray(s['enum']) && s['enum'].length > 0) return s['enum'][0];
  if ('const' in s) return s['const'];
  const type = Array.isArray(s['type']) ? s['type'][0] : s['type'];
  switch (type) {
    case 'string':
      return 'demo';
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return true;
    case 'array':
      return [sampleFromSchema(s['items'], depth + 1)];
    case 'null':
      return null;
    default: {
      const properties = (s['properties'] ?? {}) as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(properties)) out[key] = sampleFromSchema(value, depth + 1);
      return out;
    }
  }
}

interface DemoAnswer {
  content: string | null;
  toolCalls: ToolCall[];
  finish: Choice['finishReason'];
}

function answer(request: ChatRequest, target: UpstreamTarget, choice: number): DemoAnswer {
  const last = request.messages[request.messages.length - 1];
  const wantsTool =
    request.tools &&
    request.tools.length > 0 &&
    request.toolChoice?.type !== 'none' &&
    last?.role === 'user' &&
    (request.toolChoice?.type === 'required' ||
      request.toolChoice?.type === 'tool' ||
      request.tools.some((tool) => lastUserText(request).toLowerCase().includes(tool.name.toLowerCase())));
  if (wantsTool && request.tools) {
    const named = request.toolChoice?.type === 'tool' ? request.toolChoice.name : undefined;
    const mentioned = request.tools.filter((tool) =>
      lastUserText(request).toLowerCase().includes(tool.name.toLowerCase()),
    );
    const chosen = named
      ? request.tools.filter((tool) => tool.name === named)
      : mentioned.length > 0
        ? request.parallelToolCalls === false
          ? mentioned.slice(0, 1)
          : mentioned
        : request.tools.slice(0, 1);
    const seed = createHash('sha256').update(lastUserText(request)).digest('hex').slice(0, 12);
    return {
      content: null,
      toolCalls: chosen.map((tool, i) => ({
        id: `call_demo${seed}${choice}${i}`,
        name: tool.name,
        arguments: JSON.stringify(sampleFromSchema(tool.parameters)),
      })),
      finish: 'tool_calls',
    };
  }
  if (request.responseFormat?.type === 'json_schema') {
    return { content: JSON.stringify(sampleFromSchema(request.responseFormat.schema)), toolCalls: [], finish: 'stop' };
  }
  if (request.responseFormat?.type === 'json_object') {
    return {
      content: JSON.stringify({ provider: 'demo', model: target.model.name, echo: shorten(lastUserText(request), 80) }),
      toolCalls: [],
      finish: 'stop',
    };
  }
  let text: string;
  if (last?.role === 'tool') {
    const result = last.content.map((part) => (part.type === 'text' ? part.text : '')).join(' ');
    text = `Demo provider (${target.model.name}) received the tool result: ${shorten(result)}`;
  } else {
    text =
      `This answer comes from Modro's built-in demo provider, model ${target.model.name}` +
      `${choice > 0 ? ` (choice ${choice + 1})` : ''}. You said: "${shorten(lastUserText(request))}". ` +
      'Set OPENAI_API_KEY (or another provider key) to route to real models.';
  }
  let finish: Choice['finishReason'] = 'stop';
  for (const stop of request.stop ?? []) {
    const at = stop ? text.indexOf(stop) : -1;
    if (at >= 0) text = text.slice(0, at);
  }
  if (request.maxTokens !== undefined) {
    const words = text.split(' ');
    if (words.length > request.maxTokens) {
      text = words.slice(0, request.maxTokens).join(' ');
      finish = 'length';
    }
  }
  return { content: text, toolCalls: [], finish };
}

/** Tokenized within the counter's budget, else estimated (tokens/tokens.ts); 3 tokens of framing a tool call. */
async function usageFor(request: ChatRequest, answers: DemoAnswer[], tokens: TokenCounter): Promise<Usage> {
  const texts: string[] = [];
  let calls = 0;
  for (const a of answers) {
    texts.push(a.content ?? '');
    for (const call of a.toolCalls) texts.push(call.name + call.arguments);
    calls += a.toolCalls.length;
  }
  const [inputTokens, output] = await Promise.all([promptTokens(tokens, request), textTokens(tokens, texts)]);
  return {
    inputTokens,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: output + calls * 3,
    reasoningTokens: 0,
  };
}

function responseId(request: ChatRequest, target: UpstreamTarget): string {
  return `chatcmpl-demo${createHash('sha256').update(target.model.id).update(lastUserText(request)).digest('hex').slice(0, 20)}`;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function complete(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<ChatResponse> {
  const answers = Array.from({ length: request.n ?? 1 }, (_, i) => answer(request, target, i));
  return {
    id: responseId(request, target),
    created: Math.floor(Date.now() / 1000),
    model: target.model.upstreamName,
    choices: answers.map((a, index) => ({
      index,
      message: a.toolCalls.length > 0 ? { content: null, toolCalls: a.toolCalls } : { content: a.content },
      finishReason: a.finish,
    })),
    usage: await usageFor(request, answers, ctx.tokens),
  };
}

async function stream(
  request: ChatRequest,
  target: UpstreamTarget,
  ctx: CallContext,
): Promise<AsyncIterable<StreamEvent>> {
  const answers = Array.from({ length: request.n ?? 1 }, (_, i) => answer(request, target, i));
  const usage = await usageFor(request, answers, ctx.tokens);
  const pacing = Number(target.provider.options['chunkDelayMs'] ?? 0);
  const id = responseId(request, target);
  return (async function* () {
    yield { type: 'start', id, model: target.model.upstreamName, created: Math.floor(Date.now() / 1000) };
    for (const [choice, a] of answers.entries()) {
      for (const [index, call] of a.toolCalls.entries()) {
        yield { type: 'tool-call', choice, index, id: call.id, name: call.name, argumentsDelta: '' };
        const mid = Math.ceil(call.arguments.length / 2);
        yield { type: 'tool-call', choice, index, argumentsDelta: call.arguments.slice(0, mid) };
        yield { type: 'tool-call', choice, index, argumentsDelta: call.arguments.slice(mid) };
      }
      const words = (a.content ?? '').split(/(?<= )/);
      for (const word of words) {
        if (word === '') continue;
        await delay(pacing, ctx.signal);
        yield { type: 'text', choice, delta: word };
      }
      yield { type: 'finish', choice, reason: a.finish };
    }
    yield { type: 'usage', usage };
  })();
}

export const demoAdapter: ProviderAdapter = { wire: 'demo', complete, stream, embeddings: demoEmbeddings };
