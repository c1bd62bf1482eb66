/**
 * Extracts the OpenAI schemas the tests validate against from OpenAI's published OpenAPI description and writes
 * them, with every schema they reference, as one JSON Schema 2020-12 bundle that ajv compiles
 * (test/fixtures/openai-schemas.json). The spec is not available in CI, so the output is committed.
 *
 *   node scripts/extract-openai-schemas.ts [path/to/openai-openapi.yaml]
 *
 * Conversions, because the spec mixes OpenAPI 3.0 habits into a 3.1 document:
 * - `nullable: true` becomes `type: [T, 'null']` (and `null` joins an `enum`), or `anyOf: [schema, {type: 'null'}]`
 *   where there is no single type (a `$ref`, an `anyOf`).
 * - `discriminator` is dropped: it is a hint for code generators; the `oneOf` it sits on still validates.
 * - Annotations (description, title, example, default, deprecated, `x-*`) are dropped to keep the file small.
 * - `$ref: '#/components/schemas/X'` becomes `$ref: '#/$defs/X'`.
 * Any keyword not listed below stops the script, so a newer spec cannot slip in something ajv would misread.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';

const ROOTS = [
  'CreateChatCompletionRequest',
  'CreateChatCompletionResponse',
  'CreateChatCompletionStreamResponse',
  'ListModelsResponse',
  'Model',
  'ErrorResponse',
  'CreateResponse',
  'Response',
  'ResponseStreamEvent',
  'CreateEmbeddingRequest',
  'CreateEmbeddingResponse',
  'ImagesResponse',
  'CreateTranscriptionResponseVerboseJson',
  'VideoResource',
];

const repoRoot = resolve(import.meta.dirname, '..');
const specPath = resolve(process.argv[2] ?? join(repoRoot, '../shared/spec/openai-openapi.yaml'));
const outPath = join(repoRoot, 'test/fixtures/openai-schemas.json');

const ANNOTATIONS = new Set(['description', 'title', 'example', 'examples', 'default', 'deprecated', 'discriminator']);
/** Keywords whose value is copied as is (data, not subschemas). */
const VALUE_KEYWORDS = new Set([
  'type',
  'enum',
  'const',
  'required',
  'format',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minLength',
  'maxLength',
  'minProperties',
  'maxProperties',
]);
const SCHEMA_KEYWORDS = new Set(['items', 'additionalProperties', 'not', 'propertyNames', 'contains']);
const SCHEMA_LIST_KEYWORDS = new Set(['anyOf', 'oneOf', 'allOf', 'prefixItems']);
const SCHEMA_MAP_KEYWORDS = new Set(['properties', 'patternProperties']);

type Schema = Record<string, unknown>;

interface OpenAPIDocument {
  openapi: string;
  info: { version: string; license?: { name?: string; identifier?: string; url?: string } };
  components: { schemas: Record<string, Schema> };
}

const doc = parse(readFileSync(specPath, 'utf8'), { maxAliasCount: -1 }) as OpenAPIDocument;
const all = doc.components.schemas;

const wanted = [...ROOTS];
const out: Record<string, Schema> = {};
while (wanted.length > 0) {
  const name = wanted.shift()!;
  if (out[name]) continue;
  const schema = all[name];
  if (!schema) throw new Error(`Schema ${name} is not in ${specPath}`);
  out[name] = convert(schema, name, (ref) => wanted.push(ref));
}

function convert(node: unknown, at: string, onRef: (name: string) => void): Schema {
  if (typeof node === 'boolean') return node as unknown as Schema;
  if (node === null || typeof node !== 'object' || Array.isArray(node)) throw new Error(`${at}: not a schema`);
  const result: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-') || ANNOTATIONS.has(key) || key === 'nullable' || key === '$recursiveAnchor') continue;
    if (key === '$recursiveRef') {
      // Only CompoundFilter uses it (`#`: itself); a plain $ref to the schema being converted says the same.
      result.$ref = `#/$defs/${at.split('.')[0]}`;
    } else if (key === '$ref') {
      const match = /^#\/components\/schemas\/(.+)$/.exec(String(value));
      if (!match) throw new Error(`${at}: unsupported $ref ${String(value)}`);
      onRef(match[1]!);
      result.$ref = `#/$defs/${match[1]}`;
    } else if (VALUE_KEYWORDS.has(key)) {
      result[key] = value;
    } else if (SCHEMA_KEYWORDS.has(key)) {
      result[key] = convert(value, `${at}.${key}`, onRef);
    } else if (SCHEMA_LIST_KEYWORDS.has(key)) {
      result[key] = (value as unknown[]).map((item, i) => convert(item, `${at}.${key}[${i}]`, onRef));
    } else if (SCHEMA_MAP_KEYWORDS.has(key)) {
      result[key] = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([prop, sub]) => [
          prop,
          convert(sub, `${at}.${prop}`, onRef),
        ]),
      );
    } else {
      throw new Error(`${at}: keyword ${key} is not handled; extend scripts/extract-openai-schemas.ts`);
    }
  }
  return (node as Schema).nullable === true ? nullable(result) : result;
}

/** OpenAPI 3.0 `nullable: true` in JSON Schema terms. */
function nullable(schema: Schema): Schema {
  const single = typeof schema.type === 'string' && !schema.$ref && !schema.anyOf && !schema.oneOf && !schema.allOf;
  if (!single) return { anyOf: [schema, { type: 'null' }] };
  const result: Schema = { ...schema, type: [schema.type, 'null'] };
  if (Array.isArray(schema.enum) && !schema.enum.includes(null)) result.enum = [...schema.enum, null];
  return result;
}

const readme = join(dirname(specPath), 'README.md');
const commit = existsSync(readme)
  ? /openai\/openai-openapi at commit ([0-9a-f]{40})/.exec(readFileSync(readme, 'utf8'))
  : null;
const license = doc.info.license;

const bundle = {
  source: {
    description:
      "Extracted by scripts/extract-openai-schemas.ts from OpenAI's OpenAPI description (github.com/openai/openai-openapi)",
    ...(commit ? { commit: commit[1] } : {}),
    openapi: doc.openapi,
    specVersion: doc.info.version,
    license: license?.identifier ?? license?.name ?? 'unknown',
    copyright: 'OpenAI',
    conversions: 'nullable -> type/anyOf with null; discriminator and annotations dropped; $ref -> #/$defs',
  },
  roots: ROOTS,
};

// One schema per line: small, and a regenerated file diffs per schema.
const defs = Object.keys(out)
  .sort()
  .map((name) => `  ${JSON.stringify(name)}: ${JSON.stringify(out[name])}`);
const head = JSON.stringify(bundle, null, 2).replace(/\n}$/, '');
writeFileSync(outPath, `${head},\n"$defs": {\n${defs.join(',\n')}\n}}\n`);
console.log(`Wrote ${Object.keys(out).length} schemas (${ROOTS.length} roots) to ${outPath}`);
