/**
 * What a synthesized completion says, decided from the request alone (deterministic): the reply text, tool calls,
 * finish reasons and exact usage. Rendering it as a body or as stream chunks, per provider flavour, is separate.
 *
 * @see https://platform.openai.com/docs/api-reference/chat/create (n, stop, max_completion_tokens, tools,
 *   tool_choice, parallel_tool_calls, response_format, logprobs, top_logprobs)
 */
import type {
  ChatCompletionCreateParams,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import type { Flavour } from './flavours.ts';
import { countPromptTokens, countTokens, splitTokens } from './tokens.ts';

export type ChatRequest = ChatCompletionCreateParams;

export interface SynthesisOptions {
  /** The reply text; by default `Echo: <last user text>` (or `Tool result: <content>` after a tool message). */
  reply?: string | ((body: ChatRequest) => string);
  /**
   * When tools are offered, which get called:
   * - `mention` (default): those whose name appears in the last user message; `tool_choice: 'required'` calls the
   *   first tool if none is named, a named `tool_choice` calls that one; after a tool result, a text reply.
   * - `never`: always a text reply.
   * - a function returning the calls to make (or nothing for a text reply).
   */
  toolTrigger?: 'mention' | 'never' | ((body: ChatRequest) => Array<{ name: string; arguments: unknown }> | undefined);
  /** Arguments per tool name; by default a value built from the tool's parameters schema. */
  toolArguments?: Record<string, unknown>;
}

export interface ToolCallPlan {
  id: string;
  name: string;
  arguments: string;
}

export interface ChoicePlan {
  index: number;
  /** `null` when the choice only calls tools. */
  content: string | null;
  tokens: string[];
  toolCalls: ToolCallPlan[];
  finishReason: 'stop' | 'length' | 'tool_calls';
}

export interface CompletionPlan {
  seq: number;
  id: string;
  created: number;
  model: string;
  choices: ChoicePlan[];
  usage: { prompt: number; completion: number };
  /** null when logprobs were not asked for; else how many alternatives per token. */
  topLogprobs: number | null;
}

export function messageText(message: ChatCompletionMessageParam | undefined): string {
  const content = message?.content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

function defaultReply(body: ChatRequest): string {
  const last = body.messages.at(-1);
  if (last?.role === 'tool') return `Tool result: ${messageText(last)}`;
  const lastUser = body.messages.findLast((m) => m.role === 'user');
  return `Echo: ${messageText(lastUser)}`;
}

/** A value that satisfies a (simple) JSON schema: first enum value, `example` strings, 1, true, nested objects. */
export function sampleFromSchema(schema: unknown): unknown {
  if (schema === null || typeof schema !== 'object') return {};
  const s = schema as Record<string, unknown>;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum)) return s.enum[0];
  const alternatives = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(alternatives) && alternatives.length > 0) return sampleFromSchema(alternatives[0]);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'string':
      return 'example';
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'array':
      return [sampleFromSchema(s.items)];
    default: {
      const properties = (s.properties ?? {}) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, sampleFromSchema(value)]));
    }
  }
}

function functionTools(body: ChatRequest): Array<Extract<ChatCompletionTool, { type: 'function' }>> {
  return (body.tools ?? []).filter(
    (t): t is Extract<ChatCompletionTool, { type: 'function' }> => t.type === 'function',
  );
}

function pickToolCalls(body: ChatRequest, options: SynthesisOptions): Array<{ name: string; arguments: unknown }> {
  const tools = functionTools(body);
  const choice = body.tool_choice;
  if (tools.length === 0 || choice === 'none' || options.toolTrigger === 'never') return [];
  if (typeof options.toolTrigger === 'function') return options.toolTrigger(body) ?? [];
  let names: string[];
  if (typeof choice === 'object' && choice.type === 'function') names = [choice.function.name];
  else {
    if (body.messages.at(-1)?.role === 'tool' && choice !== 'required') return [];
    const text = messageText(body.messages.findLast((m) => m.role === 'user'));
    names = tools.map((t) => t.function.name).filter((name) => text.includes(name));
    if (names.length === 0 && choice === 'required') names = [tools[0]!.function.name];
  }
  if (body.parallel_tool_calls === false) names = names.slice(0, 1);
  return names.map((name) => ({
    name,
    arguments:
      options.toolArguments?.[name] ??
      sampleFromSchema(tools.find((t) => t.function.name === name)?.function.parameters),
  }));
}

function replyText(body: ChatRequest, options: SynthesisOptions): string {
  if (typeof options.reply === 'function') return options.reply(body);
  if (typeof options.reply === 'string') return options.reply;
  const format = body.response_format;
  if (format?.type === 'json_object') return JSON.stringify({ echo: messageText(body.messages.at(-1)) });
  if (format?.type === 'json_schema') return JSON.stringify(sampleFromSchema(format.json_schema.schema));
  return defaultReply(body);
}

/** Applies `stop` (cut before the earliest stop sequence) and the token limit. */
function limitText(text: string, body: ChatRequest): { tokens: string[]; finishReason: 'stop' | 'length' } {
  const stops = typeof body.stop === 'string' ? [body.stop] : (body.stop ?? []);
  let cut = text.length;
  for (const stop of stops) {
    const at = stop ? text.indexOf(stop) : -1;
    if (at >= 0 && at < cut) cut = at;
  }
  const tokens = splitTokens(text.slice(0, cut));
  const max = body.max_completion_tokens ?? body.max_tokens;
  if (typeof max === 'number' && tokens.length > max) return { tokens: tokens.slice(0, max), finishReason: 'length' };
  return { tokens, finishReason: 'stop' };
}

export function planCompletion(
  body: ChatRequest,
  model: string,
  seq: number,
  flavour: Flavour,
  options: SynthesisOptions,
): CompletionPlan {
  const n = typeof body.n === 'number' && body.n > 1 ? body.n : 1;
  const calls = pickToolCalls(body, options);
  const text = calls.length > 0 ? '' : replyText(body, options);
  let toolSeq = seq * 16;
  const choices: ChoicePlan[] = [];
  for (let index = 0; index < n; index++) {
    if (calls.length > 0) {
      const toolCalls = calls.map((call) => ({
        id: flavour.toolCallId(toolSeq++),
        name: call.name,
        arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
      }));
      choices.push({ index, content: null, tokens: [], toolCalls, finishReason: 'tool_calls' });
    } else {
      // Distinct choices make mixed-up choice indexes visible.
      const limited = limitText(n > 1 ? `${text} #${index + 1}` : text, body);
      choices.push({ index, content: limited.tokens.join(''), toolCalls: [], ...limited });
    }
  }
  const completion = choices.reduce(
    (sum, c) =>
      sum + c.tokens.length + c.toolCalls.reduce((s, t) => s + countTokens(t.name) + countTokens(t.arguments), 0),
    0,
  );
  return {
    seq,
    id: flavour.completionId(seq),
    created: Math.floor(Date.now() / 1000),
    model,
    choices,
    usage: { prompt: countPromptTokens(body), completion },
    topLogprobs: body.logprobs === true ? (body.top_logprobs ?? 0) : null,
  };
}

/** Deterministic log probabilities for the content tokens of a choice. */
export function tokenLogprobs(tokens: string[], top: number) {
  return tokens.map((token, i) => {
    const logprob = -((i % 7) + 1) / 100;
    return {
      token,
      logprob,
      bytes: [...Buffer.from(token, 'utf8')],
      top_logprobs: Array.from({ length: top }, (_, j) => {
        const alt = j === 0 ? token : `${token}~${j}`;
        return { token: alt, logprob: logprob - j, bytes: [...Buffer.from(alt, 'utf8')] };
      }),
    };
  });
}
