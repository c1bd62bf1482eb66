import type { MessageCreateParamsBase, OutputConfig, Tool } from '@anthropic-ai/sdk/resources/messages';
import type { CatalogModel } from '../../billing/catalog-types.ts';
import { GatewayError } from '../../core/errors.ts';
import type { ChatRequest } from '../../core/ir.ts';
import { anthropicModelTraits } from './anthropic-model-traits.ts';
import { convertAnthropicResponseFormat } from './convert-anthropic-response-format.ts';
import { convertAnthropicThinking } from './convert-anthropic-thinking.ts';
import { convertAnthropicTool, convertAnthropicToolChoice, forcesToolUse } from './convert-anthropic-tools.ts';
import { convertToAnthropicMessages } from './convert-to-anthropic-messages.ts';

/**
 * IR request → Anthropic Messages API request body.
 * Sampling: `temperature`, `top_p`, `top_k` are sent as given, except where they would be rejected:
 * dropped on Claude 4.7+ and with API version 2026-10-21 (which refuse them), `top_p` dropped when `temperature` is also set on 4.5/4.6
 * (one or the other), and with thinking on, `temperature`/`top_k` dropped and `top_p` kept only at ≥ 0.95.
 * Tool calls in the history without tools on the request (OpenAI clients often stop sending them) get
 * placeholder definitions with `tool_choice: none`, since Anthropic wants every used tool defined.
 * Not representable on Anthropic and ignored: seed, frequency/presence penalty, logit bias (logprobs and
 * n > 1 are refused up front, see `anthropicUnsupportedReason`).
 * @see https://platform.claude.com/docs/en/api/messages
 */

/** The SDK's request type plus the sampling fields it no longer declares but older models still accept. */
export type AnthropicRequestBody = MessageCreateParamsBase & {
  temperature?: number;
  top_p?: number;
  top_k?: number;
};

export interface AnthropicRequestPlan {
  body: AnthropicRequestBody;
  /** Set when JSON output rides on a synthetic tool: its calls are the answer's text. */
  jsonToolName?: string;
}

/** Placeholder definitions for tools that appear in the history but are not offered on this turn. */
function historyTools(request: ChatRequest): Tool[] {
  const names = new Set<string>();
  for (const message of request.messages) {
    if (message.role === 'assistant') for (const call of message.toolCalls ?? []) names.add(call.name);
  }
  return [...names].map((name) => ({
    name,
    description: 'A tool used earlier in this conversation.',
    input_schema: { type: 'object', properties: {} },
  }));
}

/** API version 2026-10-21 removed the sampling parameters for every model. */
const VERSION_WITHOUT_SAMPLING = '2026-10-21';

export function convertToAnthropicRequest(
  request: ChatRequest,
  model: CatalogModel,
  options: { apiVersion?: string } = {},
): AnthropicRequestPlan {
  if ((request.n ?? 1) > 1) {
    throw new GatewayError('invalid_request', 'Anthropic models return a single choice; n must be 1', { param: 'n' });
  }
  const traits = anthropicModelTraits(model.upstreamName);
  const prompt = convertToAnthropicMessages(request.messages);
  const format = convertAnthropicResponseFormat(request.responseFormat, model.capabilities.jsonSchema, request.tools);

  let tools: Tool[] = (request.tools ?? []).map((tool) => convertAnthropicTool(tool, model.capabilities.jsonSchema));
  let toolChoice =
    tools.length > 0 ? convertAnthropicToolChoice(request.toolChoice, request.parallelToolCalls) : undefined;
  if (tools.length === 0) {
    // Tool calls in the history need their tools defined; offered none this turn, they may not be called.
    tools = historyTools(request);
    if (tools.length > 0) toolChoice = { type: 'none' };
  }
  if (format.jsonTool) {
    const name = format.jsonTool.name;
    if (tools.length === 0 || toolChoice?.type === 'none') {
      tools = [...tools, format.jsonTool];
      toolChoice = { type: 'tool', name };
    } else if (toolChoice?.type !== 'tool') {
      // The answer must be JSON: either a real tool call or the JSON tool; plain text is not an option.
      tools = [...tools, format.jsonTool];
      toolChoice = toolChoice?.disable_parallel_tool_use
        ? { type: 'any', disable_parallel_tool_use: true }
        : { type: 'any' };
    }
  }

  const plan = convertAnthropicThinking({
    reasoning: request.reasoning,
    maxTokens: request.maxTokens,
    modelMaxOutputTokens: model.maxOutputTokens,
    traits,
    forcedToolUse: forcesToolUse(toolChoice),
  });

  const body: AnthropicRequestBody = {
    model: model.upstreamName,
    max_tokens: plan.maxTokens,
    messages: prompt.messages,
  };
  const system = [...prompt.system];
  if (format.systemInstruction) system.push({ type: 'text', text: format.systemInstruction });
  if (system.length > 0) body.system = system;
  if (tools.length > 0) body.tools = tools;
  if (toolChoice) body.tool_choice = toolChoice;
  if (request.stop && request.stop.length > 0) body.stop_sequences = [...request.stop];
  if (request.user) body.metadata = { user_id: request.user };
  if (plan.thinking) body.thinking = plan.thinking;

  const outputConfig: OutputConfig = {};
  if (plan.effort) outputConfig.effort = plan.effort;
  if (format.outputFormat) outputConfig.format = format.outputFormat;
  if (outputConfig.effort || outputConfig.format) body.output_config = outputConfig;

  const samplingRemoved = traits.noSampling || (options.apiVersion ?? '') >= VERSION_WITHOUT_SAMPLING;
  if (!samplingRemoved) {
    const thinking = plan.thinking !== undefined;
    if (request.temperature != null && !thinking) body.temperature = request.temperature;
    if (request.topK != null && !thinking) body.top_k = request.topK;
    if (request.topP != null) {
      const clashes = traits.exclusiveSampling && body.temperature !== undefined;
      if (!clashes && (!thinking || request.topP >= 0.95)) body.top_p = request.topP;
    }
  }

  return format.jsonTool && body.tools?.some((t) => 'name' in t && t.name === format.jsonTool!.name)
    ? { body, jsonToolName: format.jsonTool.name }
    : { body };
}
