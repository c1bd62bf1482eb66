import type { ChatResponse, Choice, ReasoningBlock, StreamEvent, ToolCall } from '../../core/ir.ts';
import { emptyUsage } from '../../core/ir.ts';
import type { GeminiResponse } from './gemini-api-types.ts';
import { GeminiStreamTranslator, type GeminiTranslatorOptions } from './gemini-stream-translator.ts';

/**
 * A complete generateContent response → IR response. It is read by the same translator as a stream (one
 * chunk), then the events are gathered, so streaming and non-streaming answers can never disagree.
 * @see https://ai.google.dev/api/generate-content#v1beta.GenerateContentResponse
 */
export function convertGeminiResponse(body: GeminiResponse, options: GeminiTranslatorOptions): ChatResponse {
  const translator = new GeminiStreamTranslator(options);
  return collectChatResponse([...translator.push(body), ...translator.end(false)], options.upstreamModel);
}

/** Gathers IR stream events into the response they describe. */
export function collectChatResponse(events: StreamEvent[], fallbackModel: string): ChatResponse {
  const response: ChatResponse = { id: '', created: 0, model: fallbackModel, choices: [], usage: emptyUsage() };
  const choices = new Map<number, { choice: Choice; text: string[]; calls: ToolCall[]; reasoning: ReasoningBlock[] }>();
  const choiceOf = (index: number) => {
    let entry = choices.get(index);
    if (!entry) {
      entry = {
        choice: { index, message: { content: null }, finishReason: 'stop' },
        text: [],
        calls: [],
        reasoning: [],
      };
      choices.set(index, entry);
    }
    return entry;
  };
  for (const event of events) {
    switch (event.type) {
      case 'start':
        response.id = event.id;
        response.model = event.model;
        response.created = event.created;
        break;
      case 'text':
        choiceOf(event.choice).text.push(event.delta);
        break;
      case 'reasoning': {
        const { reasoning } = choiceOf(event.choice);
        const last = reasoning.at(-1);
        if (last && !last.signature) last.text += event.delta;
        else reasoning.push({ text: event.delta });
        break;
      }
      case 'tool-call': {
        const { calls } = choiceOf(event.choice);
        const call = calls[event.index];
        if (call) call.arguments += event.argumentsDelta;
        else calls[event.index] = { id: event.id ?? '', name: event.name ?? '', arguments: event.argumentsDelta };
        break;
      }
      case 'refusal':
        choiceOf(event.choice).choice.message.refusal = event.delta;
        break;
      case 'finish':
        choiceOf(event.choice).choice.finishReason = event.reason;
        break;
      case 'usage':
        response.usage = event.usage;
        break;
      case 'logprobs':
        choiceOf(event.choice).choice.logprobs = event.logprobs;
        break;
    }
  }
  response.choices = [...choices.values()]
    .sort((a, b) => a.choice.index - b.choice.index)
    .map(({ choice, text, calls, reasoning }) => {
      if (text.length > 0) choice.message.content = text.join('');
      if (calls.length > 0) choice.message.toolCalls = calls;
      if (reasoning.length > 0) choice.message.reasoning = reasoning;
      return choice;
    });
  return response;
}
