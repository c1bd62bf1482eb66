import type { CatalogModel } from '../../billing/catalog-types.ts';
import type { ChatRequest } from '../../core/ir.ts';
import { convertGenerationConfig } from './convert-generation-config.ts';
import { convertToGeminiContents } from './convert-to-gemini-contents.ts';
import { convertTools } from './convert-tools.ts';
import type { GeminiGenerateContentRequest } from './gemini-api-types.ts';

/**
 * The whole generateContent body for an IR request; each part is converted in its own file.
 * The model goes in the URL, not the body.
 * @see https://ai.google.dev/api/generate-content#request-body
 */
export function convertToGeminiRequest(request: ChatRequest, model: CatalogModel): GeminiGenerateContentRequest {
  const { contents, systemInstruction } = convertToGeminiContents(request.messages, model.upstreamName);
  const body: GeminiGenerateContentRequest = { contents };
  if (systemInstruction) body.systemInstruction = systemInstruction;
  const { tools, toolConfig } = convertTools(request.tools, request.toolChoice);
  if (tools) body.tools = tools;
  if (toolConfig) body.toolConfig = toolConfig;
  const generationConfig = convertGenerationConfig(request, model);
  if (generationConfig) body.generationConfig = generationConfig;
  return body;
}
