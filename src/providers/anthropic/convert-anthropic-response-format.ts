import type { JSONOutputFormat, Tool } from '@anthropic-ai/sdk/resources/messages';
import type { ResponseFormat, ToolDefinition } from '../../core/ir.ts';
import { toolInputSchema } from './convert-anthropic-tools.ts';

/**
 * IR response format → the documented Anthropic means for JSON output:
 * - `json_schema`, model with structured outputs: `output_config.format: {type: 'json_schema', schema}`,
 *   constrained decoding, the JSON comes back as the text.
 * - `json_schema`, older model: a tool whose `input_schema` is the schema, which the model is made to call
 *   (tool use is Anthropic's documented way to get schema-shaped JSON from any model); its input is turned
 *   back into the answer's text and the call itself is never shown.
 * - `json_object`: Anthropic has no schema-less JSON mode (structured outputs need a schema with
 *   `additionalProperties: false` objects), so a system instruction asks for one JSON object, best effort.
 * @see https://platform.claude.com/docs/en/build-with-claude/structured-outputs
 * @see https://platform.claude.com/docs/en/agents-and-tools/tool-use/overview
 */

export const JSON_OBJECT_INSTRUCTION =
  'Respond with a single valid JSON object and nothing else: no prose, no code fences, before or after it.';

export interface ResponseFormatPlan {
  outputFormat?: JSONOutputFormat;
  systemInstruction?: string;
  /** The synthetic tool carrying the schema, when the model lacks structured outputs. */
  jsonTool?: Tool;
}

/** The JSON tool's name: `json`, unless the caller has a tool of that name. */
export function jsonToolName(tools: ToolDefinition[] | undefined): string {
  const taken = new Set((tools ?? []).map((t) => t.name));
  let name = 'json';
  for (let i = 2; taken.has(name); i++) name = `json_${i}`;
  return name;
}

export function convertAnthropicResponseFormat(
  format: ResponseFormat | undefined,
  supportsStructuredOutputs: boolean,
  tools: ToolDefinition[] | undefined,
): ResponseFormatPlan {
  if (!format || format.type === 'text') return {};
  if (format.type === 'json_object') return { systemInstruction: JSON_OBJECT_INSTRUCTION };
  if (supportsStructuredOutputs) return { outputFormat: { type: 'json_schema', schema: format.schema } };
  return {
    jsonTool: {
      name: jsonToolName(tools),
      description: format.description ?? `Respond with a JSON object (${format.name}) by calling this tool.`,
      input_schema: toolInputSchema(format.schema),
    },
  };
}
