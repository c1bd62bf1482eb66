import { GatewayError } from '../../core/errors.ts';
import type { AssistantMessage, ContentPart, Message, ToolCall, ToolMessage } from '../../core/ir.ts';
import { convertImagePart } from './convert-image-part.ts';
import type { GeminiContent, GeminiPart } from './gemini-api-types.ts';
import { geminiModelFamily } from './gemini-model-family.ts';
import { decodeToolCallId } from './tool-call-ids.ts';

/**
 * IR messages → Gemini `contents` and `systemInstruction`.
 *
 * - Leading system messages → `systemInstruction`; a system message later in the conversation becomes user
 *   text at its place (Gemini has a single system instruction).
 * - user → role `user`; assistant → role `model`; tool results → `functionResponse` parts in a `user` turn,
 *   named after the call they answer (Gemini matches by name and order, so they are put in the order of the
 *   calls) with `{output}` or, for failed tools, `{error}`; images in tool results follow as media parts.
 * - assistant tool calls → `functionCall` parts (arguments parsed back into an object) carrying the
 *   `thoughtSignature` recovered from the tool-call id; when none is available for a Gemini 3 model, the
 *   first call of the turn gets Google's documented `skip_thought_signature_validator` instead of a 400.
 * - Reasoning blocks are not sent back: Gemini reads nothing from thought text, and a signature in them may
 *   come from another provider or model, which Gemini rejects.
 * - Empty text is dropped (Gemini rejects empty text parts) and consecutive turns of one role are merged.
 * @see https://ai.google.dev/api/caching#Content
 * @see https://ai.google.dev/gemini-api/docs/function-calling
 * @see https://ai.google.dev/gemini-api/docs/thought-signatures
 */

export const SKIP_THOUGHT_SIGNATURE = 'skip_thought_signature_validator';

export interface GeminiContents {
  contents: GeminiContent[];
  systemInstruction?: GeminiContent;
}

export function convertToGeminiContents(messages: Message[], upstreamModel: string): GeminiContents {
  const { modern } = geminiModelFamily(upstreamModel);
  const calls = indexToolCalls(messages);
  const contents: GeminiContent[] = [];
  const system: GeminiPart[] = [];
  let leading = true;

  const push = (role: 'user' | 'model', parts: GeminiPart[]): void => {
    if (parts.length === 0) return;
    const last = contents.at(-1);
    if (last?.role === role) last.parts!.push(...parts);
    else contents.push({ role, parts });
  };

  messages.forEach((message, i) => {
    const param = `messages[${i}]`;
    if (message.role !== 'system') leading = false;
    switch (message.role) {
      case 'system': {
        const parts = textParts(message.content);
        if (leading) system.push(...parts);
        else push('user', parts);
        break;
      }
      case 'user':
        push('user', convertUserContent(message.content, param));
        break;
      case 'assistant':
        push('model', convertAssistant(message, upstreamModel, modern));
        break;
      case 'tool':
        push('user', convertToolResult(message, calls, param));
        break;
    }
  });

  orderFunctionResponses(contents);

  if (contents.length === 0 && system.length > 0) {
    // Gemini requires contents; a system-only conversation is sent as the user's turn.
    return { contents: [{ role: 'user', parts: system }] };
  }
  return system.length > 0 ? { contents, systemInstruction: { parts: system } } : { contents };
}

function textParts(content: ContentPart[]): GeminiPart[] {
  return content.flatMap((part) => (part.type === 'text' && part.text !== '' ? [{ text: part.text }] : []));
}

function convertUserContent(content: ContentPart[], param: string): GeminiPart[] {
  return content.flatMap((part, j): GeminiPart[] => {
    if (part.type === 'text') return part.text === '' ? [] : [{ text: part.text }];
    return [convertImagePart(part, `${param}.content[${j}]`)];
  });
}

function convertAssistant(message: AssistantMessage, upstreamModel: string, modern: boolean): GeminiPart[] {
  const parts = textParts(message.content);
  if (parts.length === 0 && message.refusal) parts.push({ text: message.refusal });
  (message.toolCalls ?? []).forEach((call, index) => {
    const { upstreamId, thoughtSignature } = decodeToolCallId(call.id, upstreamModel);
    const part: GeminiPart = { functionCall: { name: call.name, args: parseArguments(call.arguments) } };
    if (upstreamId) part.functionCall!.id = upstreamId;
    // Only the first call of a parallel set carries a signature; Gemini 3 requires it there.
    const signature = thoughtSignature ?? (modern && index === 0 ? SKIP_THOUGHT_SIGNATURE : undefined);
    if (signature) part.thoughtSignature = signature;
    parts.push(part);
  });
  return parts;
}

/** Gemini wants arguments as a JSON object; the IR keeps the model's text. */
function parseArguments(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {};
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  return { value };
}

interface IndexedCall {
  call: ToolCall;
  /** Position among the calls of its assistant message. */
  position: number;
}

function indexToolCalls(messages: Message[]): Map<string, IndexedCall> {
  const calls = new Map<string, IndexedCall>();
  for (const message of messages) {
    if (message.role !== 'assistant') continue;
    message.toolCalls?.forEach((call, position) => {
      calls.set(call.id, { call, position });
    });
  }
  return calls;
}

/** Where a functionResponse part came from, for ordering; not sent. */
const POSITION = Symbol('position');
type PositionedPart = GeminiPart & { [POSITION]?: number };

function convertToolResult(message: ToolMessage, calls: Map<string, IndexedCall>, param: string): GeminiPart[] {
  const indexed = calls.get(message.toolCallId);
  if (!indexed) {
    throw new GatewayError(
      'invalid_request',
      'A tool message must answer a tool call of an earlier assistant message',
      {
        param: `${param}.tool_call_id`,
      },
    );
  }
  const text = message.content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('');
  const { upstreamId } = decodeToolCallId(message.toolCallId, '');
  const response: PositionedPart = {
    functionResponse: {
      name: indexed.call.name,
      response: message.isError ? { error: text } : { output: text },
    },
    [POSITION]: indexed.position,
  };
  if (upstreamId) response.functionResponse!.id = upstreamId;
  const media = message.content.flatMap((part, j) =>
    part.type === 'image' ? [convertImagePart(part, `${param}.content[${j}]`)] : [],
  );
  return [response, ...media];
}

/**
 * Tool messages may arrive in any order; Gemini pairs responses with the preceding turn's calls by position,
 * so each user turn's functionResponse parts are sorted into call order (media parts stay after them).
 */
function orderFunctionResponses(contents: GeminiContent[]): void {
  for (const content of contents) {
    const parts = content.parts as PositionedPart[] | undefined;
    if (content.role !== 'user' || !parts?.some((p) => p[POSITION] !== undefined)) continue;
    const responses = parts.filter((p) => p[POSITION] !== undefined);
    responses.sort((a, b) => a[POSITION]! - b[POSITION]!);
    const others = parts.filter((p) => p[POSITION] === undefined);
    for (const part of responses) delete part[POSITION];
    content.parts = [...responses, ...others];
  }
}
