import type { GeminiSchema } from './gemini-api-types.ts';

/**
 * JSON Schema (what OpenAI-format clients send for tools and structured output) → Gemini's schema, a subset
 * of OpenAPI 3.0. Gemini rejects with a 400 any keyword outside the subset (`additionalProperties`,
 * `$schema`, `const`...), string formats other than `enum`/`date-time`, `required` names that are not
 * properties, and empty `properties` on an OBJECT, so the conversion keeps what the subset can say, rewrites
 * what has an equivalent (`const` → `enum`, `oneOf` → `anyOf`, `["x","null"]` → `nullable`, local `$ref` →
 * inlined), and drops the rest (validation-only keywords the model does not need to produce valid output).
 *
 * A recursive or non-local `$ref` cannot be inlined; then the caller sends the JSON Schema as-is through
 * `parametersJsonSchema` / `responseJsonSchema`, which accept full JSON Schema.
 * @see https://ai.google.dev/api/caching#Schema
 * @see https://ai.google.dev/gemini-api/docs/structured-output
 */

type Json = Record<string, unknown>;

export type GeminiSchemaConversion = { kind: 'schema'; schema: GeminiSchema } | { kind: 'json-schema'; schema: Json };

const TYPES = new Set(['STRING', 'NUMBER', 'INTEGER', 'BOOLEAN', 'ARRAY', 'OBJECT']);

/** Formats the Gemini API accepts, per type. */
const FORMATS: Record<string, Set<string>> = {
  STRING: new Set(['enum', 'date-time']),
  NUMBER: new Set(['float', 'double']),
  INTEGER: new Set(['int32', 'int64']),
};

/** Keywords copied unchanged (their meaning is the same in both dialects). */
const COPIED = [
  'title',
  'description',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'minProperties',
  'maxProperties',
  'default',
  'example',
  'propertyOrdering',
] as const;

class UnexpressibleSchemaError extends Error {}

export function convertJsonSchemaToGeminiSchema(schema: Json): GeminiSchemaConversion {
  try {
    return { kind: 'schema', schema: convertNode(schema, { root: schema, refs: [] }) };
  } catch (err) {
    if (!(err instanceof UnexpressibleSchemaError)) throw err;
    const { $schema: _dialect, ...rest } = schema;
    return { kind: 'json-schema', schema: rest };
  }
}

/** A tool without parameters must omit `parameters` (an OBJECT with no properties is rejected). */
export function isEmptyObjectSchema(schema: Json | undefined): boolean {
  if (!schema) return true;
  const properties = schema['properties'];
  return (
    (schema['type'] === undefined || schema['type'] === 'object') &&
    (properties === undefined || (isObject(properties) && Object.keys(properties).length === 0)) &&
    schema['$ref'] === undefined &&
    schema['anyOf'] === undefined &&
    schema['oneOf'] === undefined &&
    schema['allOf'] === undefined
  );
}

interface Context {
  root: Json;
  /** `$ref`s being expanded, outermost first: meeting one again means the schema is recursive. */
  refs: string[];
}

function convertNode(input: unknown, ctx: Context): GeminiSchema {
  if (!isObject(input)) return {};
  const node = input;
  if (typeof node['$ref'] === 'string') {
    const ref = node['$ref'];
    if (ctx.refs.includes(ref)) throw new UnexpressibleSchemaError(ref);
    const { $ref: _ref, ...siblings } = node;
    const target = convertNode(resolveRef(ref, ctx.root), { root: ctx.root, refs: [...ctx.refs, ref] });
    const own = convertNode(siblings, ctx);
    return { ...target, ...own };
  }

  if (Array.isArray(node['allOf'])) return convertAllOf(node, node['allOf'], ctx);
  const out: GeminiSchema = {};

  // Alternatives: nulls become `nullable`, a single remaining branch is the schema itself.
  const alternatives = (node['anyOf'] ?? node['oneOf']) as unknown;
  if (Array.isArray(alternatives)) {
    const nonNull = alternatives.filter((s) => !(isObject(s) && s['type'] === 'null'));
    if (nonNull.length < alternatives.length) out['nullable'] = true;
    if (nonNull.length === 1) {
      Object.assign(out, convertNode(nonNull[0], ctx));
    } else if (nonNull.length > 1) {
      out['anyOf'] = nonNull.map((s) => convertNode(s, ctx));
    }
  }

  const type = node['type'];
  if (Array.isArray(type)) {
    const nonNull = type.filter((t) => t !== 'null');
    if (nonNull.length < type.length) out['nullable'] = true;
    if (nonNull.length === 1) setType(out, nonNull[0]);
    else if (nonNull.length > 1) out['anyOf'] = nonNull.map((t) => setType({}, t));
  } else if (type === 'null') {
    out['nullable'] = true;
  } else if (type !== undefined) {
    setType(out, type);
  }

  for (const key of COPIED) {
    if (node[key] !== undefined) out[key] = node[key];
  }
  if (out['example'] === undefined && Array.isArray(node['examples']) && node['examples'].length > 0) {
    out['example'] = node['examples'][0];
  }

  if (node['const'] !== undefined) setEnum(out, [node['const']]);
  else if (Array.isArray(node['enum'])) setEnum(out, node['enum']);

  if (typeof node['format'] === 'string' && typeof out['type'] === 'string') {
    if (FORMATS[out['type']]?.has(node['format'])) out['format'] = node['format'];
  }

  if (isObject(node['properties'])) {
    const properties: Record<string, GeminiSchema> = {};
    for (const [name, value] of Object.entries(node['properties'])) properties[name] = convertNode(value, ctx);
    if (Object.keys(properties).length > 0) {
      out['properties'] = properties;
      if (out['type'] === undefined && out['anyOf'] === undefined) out['type'] = 'OBJECT';
    }
  }
  if (Array.isArray(node['required']) && isObject(out['properties'])) {
    const known = out['properties'];
    const required = node['required'].filter((name): name is string => typeof name === 'string' && name in known);
    if (required.length > 0) out['required'] = required;
  }

  const items = node['items'];
  if (isObject(items)) {
    out['items'] = convertNode(items, ctx);
  } else if (Array.isArray(items) && items.length > 0) {
    // Draft-4 tuple form: the subset has one item schema, so any of the positions.
    out['items'] = items.length === 1 ? convertNode(items[0], ctx) : { anyOf: items.map((s) => convertNode(s, ctx)) };
  }
  return out;
}

function setType(out: GeminiSchema, type: unknown): GeminiSchema {
  const upper = typeof type === 'string' ? type.toUpperCase() : '';
  if (TYPES.has(upper)) out['type'] = upper;
  return out;
}

/**
 * Gemini allows `enum` only on STRING ("enum: only allowed for STRING type") and only with string values.
 * A string enum stays an enum; an enum of numbers or booleans keeps its type (so the model still answers
 * `2`, not `"2"`) and the allowed values move into the description, where the model still sees them.
 */
function setEnum(out: GeminiSchema, values: unknown[]): void {
  const nonNull = values.filter((v) => v !== null);
  if (nonNull.length < values.length) out['nullable'] = true;
  if (nonNull.length === 0) return;
  if (out['type'] === undefined) out['type'] = literalType(nonNull);
  if (out['type'] === 'STRING') {
    out['enum'] = nonNull.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
    return;
  }
  const allowed = `Allowed values: ${nonNull.map((v) => JSON.stringify(v)).join(', ')}.`;
  out['description'] = typeof out['description'] === 'string' ? `${out['description']} ${allowed}` : allowed;
}

function literalType(values: unknown[]): string {
  if (values.every((v) => typeof v === 'boolean')) return 'BOOLEAN';
  if (values.every((v) => typeof v === 'number')) return values.every(Number.isInteger) ? 'INTEGER' : 'NUMBER';
  return 'STRING';
}

/**
 * `allOf` (commonly one `$ref` plus a sibling description) becomes one schema: each branch is converted on its
 * own, then properties and required unite and the first branch to say anything else wins (the siblings first).
 */
function convertAllOf(node: Json, allOf: unknown[], ctx: Context): GeminiSchema {
  const { allOf: _allOf, ...siblings } = node;
  const parts = [convertNode(siblings, ctx), ...allOf.map((branch) => convertNode(branch, ctx))];
  const merged: GeminiSchema = {};
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const part of parts) {
    for (const [key, value] of Object.entries(part)) {
      if (key === 'properties' && isObject(value)) Object.assign(properties, value);
      else if (key === 'required' && Array.isArray(value)) required.push(...(value as string[]));
      else if (merged[key] === undefined) merged[key] = value;
    }
  }
  if (Object.keys(properties).length > 0) {
    merged['properties'] = properties;
    if (merged['type'] === undefined) merged['type'] = 'OBJECT';
  }
  if (required.length > 0) merged['required'] = [...new Set(required)];
  return merged;
}

/** Local references only (`#`, `#/$defs/X`, `#/definitions/X`, any JSON pointer into the root). */
function resolveRef(ref: string, root: Json): Json {
  if (!ref.startsWith('#')) throw new UnexpressibleSchemaError(ref);
  let current: unknown = root;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    current = isObject(current) ? current[key] : undefined;
  }
  // An unresolvable reference is sent as JSON Schema and left for Gemini to judge.
  if (!isObject(current)) throw new UnexpressibleSchemaError(ref);
  return current;
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
