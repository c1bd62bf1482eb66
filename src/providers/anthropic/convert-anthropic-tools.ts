import type { ToolChoice as AnthropicToolChoice, Tool } from '@anthropic-ai/sdk/resources/messages';
import type { ToolChoice, ToolDefinition } from '../../core/ir.ts';

/**
 * IR tools and tool choice → Anthropic `tools` and `tool_choice`.
 * - `required` is Anthropic's `any`; a named tool is `{type: 'tool', name}`; `none` is `none`.
 * - `parallelToolCalls: false` is `disable_parallel_tool_use: true` on the choice (Anthropic has no
 *   top-level switch), so it is sent with an explicit `auto` when no choice was given.
 * - `strict` is only sent to models the catalog says support structured outputs; older models reject it.
 * - A schema without `type` gets `type: "object"`, which Anthropic requires of every `input_schema`.
 * @see https://platform.claude.com/docs/en/agents-and-tools/tool-use/define-tools
 * @see https://platform.claude.com/docs/en/agents-and-tools/tool-use/parallel-tool-use
 * @see https://platform.claude.com/docs/en/build-with-claude/structured-outputs#strict-tool-use
 */

export function toolInputSchema(parameters: Record<string, unknown>): Tool.InputSchema {
  const schema: Record<string, unknown> = { ...parameters };
  if (schema['type'] === undefined) schema['type'] = 'object';
  if (schema['type'] === 'object' && schema['properties'] === undefined) schema['properties'] = {};
  return schema as Tool.InputSchema;
}

export function convertAnthropicTool(tool: ToolDefinition, supportsStrict: boolean): Tool {
  const result: Tool = { name: tool.name, input_schema: toolInputSchema(tool.parameters) };
  if (tool.description !== undefined && tool.description !== '') result.description = tool.description;
  if (tool.strict === true && supportsStrict) result.strict = true;
  return result;
}

export function convertAnthropicToolChoice(
  choice: ToolChoice | undefined,
  parallelToolCalls: boolean | undefined,
): AnthropicToolChoice | undefined {
  const disableParallel = parallelToolCalls === false;
  switch (choice?.type) {
    case undefined:
      return disableParallel ? { type: 'auto', disable_parallel_tool_use: true } : undefined;
    case 'none':
      return { type: 'none' };
    case 'auto':
      return disableParallel ? { type: 'auto', disable_parallel_tool_use: true } : { type: 'auto' };
    case 'required':
      return disableParallel ? { type: 'any', disable_parallel_tool_use: true } : { type: 'any' };
    case 'tool':
      return disableParallel
        ? { type: 'tool', name: choice.name, disable_parallel_tool_use: true }
        : { type: 'tool', name: choice.name };
  }
}

/** `any` and a named tool force a tool call, which Anthropic does not allow together with thinking. */
export function forcesToolUse(choice: AnthropicToolChoice | undefined): boolean {
  return choice?.type === 'any' || choice?.type === 'tool';
}
