export { geminiAdapter, geminiUnsupportedReason } from './gemini-adapter.ts';
export { GEMINI_DEFAULT_API_VERSION, GEMINI_DEFAULT_BASE_URL } from './gemini-endpoint.ts';
