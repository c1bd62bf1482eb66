export { geminiAdapter, geminiUnsupportedReason } from './gemini-adapter.ts';
export { GEMINI_DEFAULT_API_VERSION } from './gemini-endpoint.ts';
