import type { ChatRequest, ContentPart, TextPart } from '../../core/ir.ts';
import type { PromptContext } from './features.ts';

/**
 * What the router reads from a request: the text of the last user turn (RouteLLM routes on the last turn
 * too) and the context around it. No copying of the conversation: one walk over the messages, and a string
 * join only when the last user turn has several text parts.
 */
export interface RoutedPrompt {
  text: string;
  context: PromptContext;
}

function textOf(parts: readonly (ContentPart | TextPart)[]): string {
  if (parts.length === 1) {
    const only = parts[0]!;
    return only.type === 'text' ? only.text : '';
  }
  let text = '';
  for (const part of parts) {
    if (part.type === 'text') text = text.length === 0 ? part.text : `${text}\n${part.text}`;
  }
  return text;
}

export function emptyContext(): PromptContext {
  return { priorTurns: 0, systemChars: 0, toolCount: 0, imageCount: 0, jsonOutput: false };
}

/**
 * Fills `context` (reused by the caller, so routing allocates nothing per request) and returns the text to
 * score.
 */
export function readPrompt(request: ChatRequest, context: PromptContext): string {
  let lastUser = -1;
  let userTurns = 0;
  let systemChars = 0;
  let imageCount = 0;
  const messages = request.messages;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    if (message.role === 'user') {
      lastUser = i;
      userTurns++;
      for (const part of message.content) if (part.type === 'image') imageCount++;
    } else if (message.role === 'system') {
      for (const part of message.content) systemChars += part.text.length;
    } else if (message.role === 'tool') {
      for (const part of message.content) if (part.type === 'image') imageCount++;
    }
  }
  let text = '';
  if (lastUser >= 0) {
    text = textOf(messages[lastUser]!.content);
  } else {
    // No user turn (a system-only prompt): route on the last message that has text.
    for (let i = messages.length - 1; i >= 0 && text === ''; i--) text = textOf(messages[i]!.content);
  }
  const format = request.responseFormat?.type;
  context.priorTurns = Math.max(0, userTurns - 1);
  context.systemChars = systemChars;
  context.toolCount = request.tools?.length ?? 0;
  context.imageCount = imageCount;
  context.jsonOutput = format === 'json_object' || format === 'json_schema';
  return text;
}

/** The routed text and context of a request, as new objects (tests, diagnostics). */
export function promptOf(request: ChatRequest): RoutedPrompt {
  const context = emptyContext();
  const text = readPrompt(request, context);
  return { text, context };
}
