import type { ToolChoice, ToolDefinition } from '../../core/ir.ts';
import { convertJsonSchemaToGeminiSchema, isEmptyObjectSchema } from './convert-json-schema-to-gemini-schema.ts';
import type { GeminiFunctionDeclaration, GeminiTool, GeminiToolConfig } from './gemini-api-types.ts';

/**
 * IR tools and tool choice → Gemini `tools[].functionDeclarations` and `toolConfig.functionCallingConfig`.
 *
 * tool_choice: auto → AUTO, none → NONE, required → ANY, a named tool → ANY restricted to that name by
 * `allowedFunctionNames`. `parallel_tool_calls` has no Gemini switch and is not sent (Gemini decides).
 * `strict` has no per-tool equivalent either; Gemini always validates calls against the declaration.
 * @see https://ai.google.dev/gemini-api/docs/function-calling#function_calling_modes
 * @see https://ai.google.dev/api/caching#FunctionDeclaration
 */
export function convertTools(
  tools: ToolDefinition[] | undefined,
  toolChoice: ToolChoice | undefined,
): { tools?: GeminiTool[]; toolConfig?: GeminiToolConfig } {
  if (!tools || tools.length === 0) return {};
  const functionDeclarations = tools.map(convertFunctionDeclaration);
  const toolConfig = convertToolChoice(toolChoice);
  return toolConfig ? { tools: [{ functionDeclarations }], toolConfig } : { tools: [{ functionDeclarations }] };
}

function convertFunctionDeclaration(tool: ToolDefinition): GeminiFunctionDeclaration {
  const declaration: GeminiFunctionDeclaration = { name: tool.name };
  if (tool.description) declaration.description = tool.description;
  if (isEmptyObjectSchema(tool.parameters)) return declaration;
  const converted = convertJsonSchemaToGeminiSchema(tool.parameters);
  if (converted.kind === 'schema') declaration.parameters = converted.schema;
  else declaration.parametersJsonSchema = converted.schema;
  return declaration;
}

function convertToolChoice(choice: ToolChoice | undefined): GeminiToolConfig | undefined {
  switch (choice?.type) {
    case undefined:
      return undefined;
    case 'auto':
      return { functionCallingConfig: { mode: 'AUTO' } };
    case 'none':
      return { functionCallingConfig: { mode: 'NONE' } };
    case 'required':
      return { functionCallingConfig: { mode: 'ANY' } };
    case 'tool':
      return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.name] } };
  }
}
