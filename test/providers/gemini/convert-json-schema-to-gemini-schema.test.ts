import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  convertJsonSchemaToGeminiSchema,
  isEmptyObjectSchema,
} from '../../../src/providers/gemini/convert-json-schema-to-gemini-schema.ts';

function subset(schema: Record<string, unknown>) {
  const converted = convertJsonSchemaToGeminiSchema(schema);
  assert.equal(converted.kind, 'schema');
  return converted.schema;
}

describe('convertJsonSchemaToGeminiSchema', () => {
  it('drops keywords outside the subset and upper-cases types', () => {
    assert.deepEqual(
      subset({
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        $id: 'x',
        type: 'object',
        title: 'T',
        properties: { a: { type: 'string', minLength: 1, maxLength: 9, pattern: '^a', examples: ['ab'] } },
        additionalProperties: false,
        patternProperties: { '^x': { type: 'string' } },
        unevaluatedProperties: false,
      }),
      {
        type: 'OBJECT',
        title: 'T',
        properties: { a: { type: 'STRING', minLength: 1, maxLength: 9, pattern: '^a', example: 'ab' } },
      },
    );
  });

  it('keeps only formats Gemini accepts per type', () => {
    assert.deepEqual(
      subset({
        type: 'object',
        properties: {
          when: { type: 'string', format: 'date-time' },
          url: { type: 'string', format: 'uri' },
          mail: { type: 'string', format: 'email' },
          n: { type: 'integer', format: 'int64' },
          x: { type: 'number', format: 'double' },
        },
      }),
      {
        type: 'OBJECT',
        properties: {
          when: { type: 'STRING', format: 'date-time' },
          url: { type: 'STRING' },
          mail: { type: 'STRING' },
          n: { type: 'INTEGER', format: 'int64' },
          x: { type: 'NUMBER', format: 'double' },
        },
      },
    );
  });

  it('null in type arrays and anyOf becomes nullable; several types become anyOf', () => {
    assert.deepEqual(subset({ type: ['string', 'null'] }), { type: 'STRING', nullable: true });
    assert.deepEqual(subset({ anyOf: [{ type: 'null' }, { type: 'array', items: { type: 'number' } }] }), {
      nullable: true,
      type: 'ARRAY',
      items: { type: 'NUMBER' },
    });
    assert.deepEqual(subset({ type: ['string', 'integer'] }), { anyOf: [{ type: 'STRING' }, { type: 'INTEGER' }] });
    assert.deepEqual(subset({ oneOf: [{ type: 'string' }, { type: 'boolean' }] }), {
      anyOf: [{ type: 'STRING' }, { type: 'BOOLEAN' }],
    });
  });

  it('const becomes a one-value enum; enums stay only on strings (Gemini: "only allowed for STRING type")', () => {
    assert.deepEqual(subset({ const: 'fixed' }), { type: 'STRING', enum: ['fixed'] });
    assert.deepEqual(subset({ type: 'string', enum: ['a', 'b', null] }), {
      type: 'STRING',
      nullable: true,
      enum: ['a', 'b'],
    });
    assert.deepEqual(subset({ type: 'integer', description: 'Level.', enum: [1, 2, null] }), {
      type: 'INTEGER',
      description: 'Level. Allowed values: 1, 2.',
      nullable: true,
    });
    assert.deepEqual(subset({ enum: [0.5, 1] }), { type: 'NUMBER', description: 'Allowed values: 0.5, 1.' });
    assert.deepEqual(subset({ const: true }), { type: 'BOOLEAN', description: 'Allowed values: true.' });
    assert.deepEqual(subset({ enum: ['a', 1] }), { type: 'STRING', enum: ['a', '1'] });
  });

  it('inlines local $ref ($defs and definitions) and keeps sibling descriptions', () => {
    assert.deepEqual(
      subset({
        type: 'object',
        properties: {
          a: { $ref: '#/$defs/Point', description: 'start' },
          b: { $ref: '#/definitions/Point' },
        },
        required: ['a', 'missing'],
        $defs: { Point: { type: 'object', properties: { x: { type: 'number' } }, required: ['x'] } },
        definitions: { Point: { type: 'object', properties: { y: { type: 'number' } } } },
      }),
      {
        type: 'OBJECT',
        properties: {
          a: { type: 'OBJECT', properties: { x: { type: 'NUMBER' } }, required: ['x'], description: 'start' },
          b: { type: 'OBJECT', properties: { y: { type: 'NUMBER' } } },
        },
        required: ['a'],
      },
    );
  });

  it('merges allOf branches (properties and required unite)', () => {
    assert.deepEqual(
      subset({
        description: 'merged',
        allOf: [
          { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
          { properties: { b: { type: 'boolean' } }, required: ['b'] },
        ],
      }),
      {
        description: 'merged',
        type: 'OBJECT',
        properties: { a: { type: 'STRING' }, b: { type: 'BOOLEAN' } },
        required: ['a', 'b'],
      },
    );
  });

  it('a recursive schema cannot be inlined: it is kept as JSON Schema (minus $schema)', () => {
    const tree = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { children: { type: 'array', items: { $ref: '#' } } },
    };
    const converted = convertJsonSchemaToGeminiSchema(tree);
    assert.equal(converted.kind, 'json-schema');
    assert.deepEqual(converted.schema, { type: 'object', properties: tree.properties });
    const viaDefs = convertJsonSchemaToGeminiSchema({
      $ref: '#/$defs/Node',
      $defs: { Node: { type: 'object', properties: { next: { allOf: [{ $ref: '#/$defs/Node' }] } } } },
    });
    assert.equal(viaDefs.kind, 'json-schema');
  });

  it('empty objects are dropped: no `properties: {}` (Gemini rejects it)', () => {
    assert.deepEqual(subset({ type: 'object', properties: { meta: { type: 'object', properties: {} } } }), {
      type: 'OBJECT',
      properties: { meta: { type: 'OBJECT' } },
    });
    assert.equal(isEmptyObjectSchema({ type: 'object', properties: {} }), true);
    assert.equal(isEmptyObjectSchema({ type: 'object' }), true);
    assert.equal(isEmptyObjectSchema({ type: 'object', properties: { a: { type: 'string' } } }), false);
  });

  it('draft-4 tuple items become one item schema', () => {
    assert.deepEqual(subset({ type: 'array', items: [{ type: 'string' }, { type: 'number' }] }), {
      type: 'ARRAY',
      items: { anyOf: [{ type: 'STRING' }, { type: 'NUMBER' }] },
    });
  });
});
