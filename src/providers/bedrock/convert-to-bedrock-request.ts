import type { CatalogModel } from '../../billing/catalog-types.ts';
import type { ChatRequest } from '../../core/ir.ts';
import type {
  BedrockConverseRequest,
  BedrockImageBlock,
  BedrockInferenceConfig,
  BedrockToolSpec,
} from './bedrock-api-types.ts';
import type { BedrockModelFamily } from './bedrock-model-family.ts';
import { planAnthropicThinking } from './convert-reasoning.ts';
import { convertToBedrockMessages } from './convert-to-bedrock-messages.ts';
import { convertTools } from './convert-tools.ts';

/**
 * A whole IR request → one Converse (or ConverseStream, same body) request body.
 * - `inferenceConfig`: maxTokens, temperature, topP, stopSequences. Left out when unset, so the model's own
 *   defaults apply (Bedrock reserves maxTokens against the account's tokens-per-minute quota, so no large
 *   default is invented).
 * - `top_k` and `thinking` go in `additionalModelRequestFields` for Anthropic models; with thinking on,
 *   temperature and top_k are left out and topP only kept from 0.95 up (Anthropic's constraints). Without
 *   thinking, Anthropic models get temperature or topP, not both (recent Claude models reject the pair).
 * - json_schema: natively through `outputConfig.textFormat` (provider option `jsonSchemaMode: native`, the
 *   default), or through a forced `json_response` tool whose input is returned as the text (`tool` mode, for
 *   models without structured outputs). json_object: a system instruction (Converse has no JSON mode).
 * - Anthropic models are asked for the matched stop sequence (`additionalModelResponseFieldPaths`).
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InferenceConfiguration.html
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/structured-output.html
 */

export const JSON_TOOL_NAME = 'json_response';
export const JSON_OBJECT_INSTRUCTION = 'Respond with a single valid JSON object and nothing else.';

export type JsonSchemaMode = 'native' | 'tool';

export interface ConvertRequestOptions {
  family: BedrockModelFamily;
  images: ReadonlyMap<string, BedrockImageBlock>;
  jsonSchemaMode: JsonSchemaMode;
}

export interface BedrockRequestPlan {
  body: BedrockConverseRequest;
  /** Set in tool mode: the tool whose input is the JSON answer, to be turned back into text. */
  jsonToolName?: string;
}

export function convertToBedrockRequest(
  request: ChatRequest,
  model: Pick<CatalogModel, 'maxOutputTokens'>,
  options: ConvertRequestOptions,
): BedrockRequestPlan {
  const anthropic = options.family === 'anthropic';
  const prompt = convertToBedrockMessages(request.messages, { family: options.family, images: options.images });
  const body: BedrockConverseRequest = { messages: prompt.messages };

  const format = request.responseFormat;
  let jsonTool: BedrockToolSpec | undefined;
  if (format?.type === 'json_schema') {
    if (options.jsonSchemaMode === 'tool') {
      jsonTool = {
        toolSpec: {
          name: JSON_TOOL_NAME,
          description: format.description || 'Give the final answer as JSON matching this schema.',
          inputSchema: { json: format.schema },
        },
      };
    } else {
      body.outputConfig = {
        textFormat: {
          type: 'json_schema',
          structure: {
            jsonSchema: {
              schema: JSON.stringify(format.schema),
              ...(format.name ? { name: format.name } : {}),
              ...(format.description ? { description: format.description } : {}),
            },
          },
        },
      };
    }
  } else if (format?.type === 'json_object') {
    prompt.system.push({ text: JSON_OBJECT_INSTRUCTION });
  }
  if (prompt.system.length > 0) body.system = prompt.system;

  const toolConfig = convertTools({
    tools: request.tools,
    toolChoice: request.toolChoice,
    historyToolNames: prompt.historyToolNames,
    forwardStrict: options.jsonSchemaMode === 'native',
    ...(jsonTool ? { jsonTool } : {}),
  });
  if (toolConfig) body.toolConfig = toolConfig;

  const thinking = anthropic ? planAnthropicThinking(request, model, toolConfig?.toolChoice !== undefined) : undefined;
  const inference: BedrockInferenceConfig = {};
  const maxTokens = thinking?.maxTokens ?? request.maxTokens;
  if (maxTokens !== undefined) inference.maxTokens = maxTokens;
  if (request.temperature !== undefined && !thinking) inference.temperature = request.temperature;
  // Recent Claude models reject temperature and top_p together; Anthropic advises setting only one anyway.
  const topPAllowed = thinking ? (request.topP ?? 0) >= 0.95 : !(anthropic && inference.temperature !== undefined);
  if (request.topP !== undefined && topPAllowed) inference.topP = request.topP;
  if (request.stop && request.stop.length > 0) inference.stopSequences = request.stop;
  if (Object.keys(inference).length > 0) body.inferenceConfig = inference;

  const additional: Record<string, unknown> = {};
  if (thinking) additional['thinking'] = { type: 'enabled', budget_tokens: thinking.budgetTokens };
  if (anthropic && request.topK !== undefined && !thinking) additional['top_k'] = request.topK;
  if (Object.keys(additional).length > 0) body.additionalModelRequestFields = additional;
  if (anthropic && inference.stopSequences) body.additionalModelResponseFieldPaths = ['/delta/stop_sequence'];

  return jsonTool ? { body, jsonToolName: JSON_TOOL_NAME } : { body };
}
