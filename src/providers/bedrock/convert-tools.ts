import type { ToolChoice, ToolDefinition } from '../../core/ir.ts';
import type { BedrockToolConfig, BedrockToolSpec } from './bedrock-api-types.ts';

/**
 * IR tools and tool choice → Converse `toolConfig`.
 * - Each tool is a `toolSpec` with its JSON Schema under `inputSchema.json`.
 * - `auto` sends no toolChoice (auto is the default, and some models accept no explicit choice at all);
 *   `required` → `{any:{}}`; a named tool → `{tool:{name}}`.
 * - `none` has no Converse equivalent, so the tools are left out. But Converse rejects a conversation holding
 *   toolUse/toolResult blocks without a toolConfig: then the tools stay declared (without a choice), and
 *   tools used in the history but no longer declared get a minimal placeholder spec. With `none` the model
 *   could therefore still call a tool in that one case.
 * - `strict` is forwarded only when asked (`forwardStrict`): models without structured-output support reject it.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolConfiguration.html
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolChoice.html
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/tool-use.html
 */

export interface ConvertToolsInput {
  tools: ToolDefinition[] | undefined;
  toolChoice: ToolChoice | undefined;
  /** Tool names appearing in the conversation's tool calls. */
  historyToolNames: string[];
  forwardStrict: boolean;
  /** A forced JSON-output tool to add (json_schema in tool mode), which then becomes the forced choice. */
  jsonTool?: BedrockToolSpec;
}

export function toBedrockToolSpec(tool: ToolDefinition, forwardStrict: boolean): BedrockToolSpec {
  return {
    toolSpec: {
      name: tool.name,
      ...(tool.description ? { description: tool.description } : {}),
      inputSchema: { json: objectSchema(tool.parameters) },
      ...(forwardStrict && tool.strict ? { strict: true } : {}),
    },
  };
}

/** Converse (and Anthropic behind it) wants an object schema; OpenAI lets callers omit parameters. */
function objectSchema(parameters: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!parameters || Object.keys(parameters).length === 0) return { type: 'object', properties: {} };
  return parameters['type'] === undefined ? { type: 'object', ...parameters } : parameters;
}

export function convertTools(input: ConvertToolsInput): BedrockToolConfig | undefined {
  const declared = input.tools ?? [];
  const choice = input.toolChoice ?? { type: 'auto' };
  const historyNeedsConfig = input.historyToolNames.length > 0;

  const tools: BedrockToolSpec[] = [];
  if (choice.type !== 'none' || historyNeedsConfig) {
    for (const tool of declared) tools.push(toBedrockToolSpec(tool, input.forwardStrict));
  }
  const names = new Set(tools.map((tool) => tool.toolSpec.name));
  for (const name of input.historyToolNames) {
    if (names.has(name)) continue;
    names.add(name);
    tools.push({
      toolSpec: {
        name,
        description: 'A tool used earlier in this conversation.',
        inputSchema: { json: { type: 'object', properties: {} } },
      },
    });
  }

  if (input.jsonTool) {
    tools.push(input.jsonTool);
    if (choice.type === 'tool') return { tools, toolChoice: { tool: { name: choice.name } } };
    // With the caller's own tools available the model may call those instead; otherwise it must answer in JSON.
    const userTools = choice.type !== 'none' && declared.length > 0;
    return {
      tools,
      toolChoice: userTools ? { any: {} } : { tool: { name: input.jsonTool.toolSpec.name } },
    };
  }

  if (tools.length === 0) return undefined;
  if (choice.type === 'required') return { tools, toolChoice: { any: {} } };
  if (choice.type === 'tool') return { tools, toolChoice: { tool: { name: choice.name } } };
  return { tools };
}
