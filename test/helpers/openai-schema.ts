/**
 * Validates bodies and stream chunks against OpenAI's own schemas (test/fixtures/openai-schemas.json, extracted
 * from OpenAI's OpenAPI description by scripts/extract-openai-schemas.ts). Each validator is compiled on first use.
 *
 *   const result = validateChatCompletion(body);
 *   assert.ok(result.ok, result.errors);
 *
 * The schemas do not forbid extra properties on responses (no `additionalProperties: false` on any response
 * object), so provider extensions such as `usage.cost`, `x_groq` or an error's `retryable` validate.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';

export interface SchemaResult {
  ok: boolean;
  /** Readable ajv errors, one per line (`/choices/0/finish_reason: must be equal to one of the allowed values`). */
  errors: string;
  /** Every error as `instancePath: message`, uncapped, for comparing deviations. */
  issues: string[];
}

const BUNDLE_ID = 'openai-schemas.json';
const MAX_ERRORS = 12;

let ajv: Ajv2020 | undefined;
const compiled = new Map<string, ValidateFunction>();

function load(): Ajv2020 {
  if (ajv) return ajv;
  const bundle = JSON.parse(readFileSync(new URL('../fixtures/openai-schemas.json', import.meta.url), 'utf8')) as {
    $defs: Record<string, unknown>;
  };
  const instance = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
  // The formats the extracted schemas use. `unixtime` is OpenAI's own: an integer number of seconds.
  instance.addFormat('unixtime', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  instance.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
  instance.addFormat('uri', (s: string) => URL.canParse(s));
  // OpenAPI's numeric formats (embedding values, the Responses schemas): numbers with nothing more to check.
  instance.addFormat('float', { type: 'number', validate: (n: number) => Number.isFinite(n) });
  instance.addFormat('double', { type: 'number', validate: (n: number) => Number.isFinite(n) });
  instance.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  instance.addSchema({ $id: BUNDLE_ID, $defs: bundle.$defs });
  ajv = instance;
  return instance;
}

export function validateSchema(name: string, value: unknown): SchemaResult {
  let validate = compiled.get(name);
  if (!validate) {
    const found = load().getSchema(`${BUNDLE_ID}#/$defs/${name}`);
    if (!found) throw new Error(`No OpenAI schema named ${name} in test/fixtures/openai-schemas.json`);
    validate = found;
    compiled.set(name, validate);
  }
  if (validate(value)) return { ok: true, errors: '', issues: [] };
  const errors = validate.errors ?? [];
  return {
    ok: false,
    errors: formatErrors(name, errors),
    issues: errors.map((e) => `${e.instancePath || '/'}: ${e.message ?? e.keyword}`),
  };
}

function formatErrors(name: string, errors: ErrorObject[]): string {
  const lines = errors.slice(0, MAX_ERRORS).map((e) => {
    const detail = e.keyword === 'enum' || e.keyword === 'const' ? ` ${JSON.stringify(e.params)}` : '';
    const extra = e.keyword === 'additionalProperties' ? ` (${String(e.params.additionalProperty)})` : '';
    return `${e.instancePath || '/'}: ${e.message ?? e.keyword}${extra}${detail} [${e.schemaPath}]`;
  });
  if (errors.length > MAX_ERRORS) lines.push(`... and ${errors.length - MAX_ERRORS} more`);
  return `${name}:\n${lines.join('\n')}`;
}

export const validateChatCompletion = (body: unknown): SchemaResult =>
  validateSchema('CreateChatCompletionResponse', body);
export const validateChatCompletionChunk = (chunk: unknown): SchemaResult =>
  validateSchema('CreateChatCompletionStreamResponse', chunk);
export const validateModelList = (body: unknown): SchemaResult => validateSchema('ListModelsResponse', body);
export const validateModel = (body: unknown): SchemaResult => validateSchema('Model', body);
export const validateErrorResponse = (body: unknown): SchemaResult => validateSchema('ErrorResponse', body);
export const validateChatCompletionRequest = (body: unknown): SchemaResult =>
  validateSchema('CreateChatCompletionRequest', body);
export const validateEmbeddingResponse = (body: unknown): SchemaResult =>
  validateSchema('CreateEmbeddingResponse', body);
export const validateEmbeddingRequest = (body: unknown): SchemaResult => validateSchema('CreateEmbeddingRequest', body);

/**
 * A Responses stream event against the schema of its own type (ResponseStreamEvent is a union of ~50
 * event schemas; checking against the union alone would report every member's complaint).
 */
export function validateResponseStreamEvent(event: unknown): SchemaResult {
  const type = (event as { type?: unknown } | null)?.type;
  const name = typeof type === 'string' ? streamEventSchemas().get(type) : undefined;
  if (!name) return { ok: false, errors: `no Responses stream event of type ${String(type)}`, issues: [] };
  return validateSchema(name, event);
}

let eventSchemas: Map<string, string> | undefined;
function streamEventSchemas(): Map<string, string> {
  if (eventSchemas) return eventSchemas;
  const bundle = JSON.parse(readFileSync(new URL('../fixtures/openai-schemas.json', import.meta.url), 'utf8')) as {
    $defs: Record<string, { anyOf?: Array<{ $ref: string }>; properties?: { type?: { enum?: string[] } } }>;
  };
  eventSchemas = new Map();
  for (const member of bundle.$defs['ResponseStreamEvent']?.anyOf ?? []) {
    const name = member.$ref.replace('#/$defs/', '');
    const type = bundle.$defs[name]?.properties?.type?.enum?.[0];
    if (type) eventSchemas.set(type, name);
  }
  return eventSchemas;
}
