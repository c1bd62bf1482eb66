import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { convertThinkingConfig } from '../../../src/providers/gemini/convert-generation-config.ts';
import { convertTools } from '../../../src/providers/gemini/convert-tools.ts';
import { geminiTarget } from './helpers.ts';

const model = (name: string, reasoning = true) => geminiTarget({ baseUrl: '', apiKey: '' }, name, { reasoning }).model;

describe('convertThinkingConfig', () => {
  it('is absent without reasoning options or for non-reasoning models', () => {
    assert.equal(convertThinkingConfig(undefined, model('gemini-2.5-flash')), undefined);
    assert.equal(convertThinkingConfig({ effort: 'high' }, model('gemini-2.0-flash', false)), undefined);
  });

  it('an explicit budget is a thinkingBudget on every generation', () => {
    assert.deepEqual(convertThinkingConfig({ budgetTokens: 4096 }, model('gemini-3-pro-preview')), {
      includeThoughts: true,
      thinkingBudget: 4096,
    });
  });

  it('effort on Gemini 3: thinkingLevel; Pro only LOW/HIGH', () => {
    const levels = (name: string) =>
      (['minimal', 'low', 'medium', 'high'] as const).map(
        (effort) => convertThinkingConfig({ effort }, model(name))?.thinkingLevel,
      );
    assert.deepEqual(levels('gemini-3-flash-preview'), ['MINIMAL', 'LOW', 'MEDIUM', 'HIGH']);
    assert.deepEqual(levels('gemini-3-pro-preview'), ['LOW', 'LOW', 'HIGH', 'HIGH']);
  });

  it('effort on Gemini 2.5: budgets; minimal turns Flash thinking off, Pro keeps its minimum', () => {
    assert.deepEqual(convertThinkingConfig({ effort: 'minimal' }, model('gemini-2.5-flash')), {
      includeThoughts: false,
      thinkingBudget: 0,
    });
    assert.deepEqual(convertThinkingConfig({ effort: 'minimal' }, model('gemini-2.5-pro')), {
      includeThoughts: true,
      thinkingBudget: 128,
    });
    assert.equal(convertThinkingConfig({ effort: 'medium' }, model('gemini-2.5-flash'))?.thinkingBudget, 8192);
  });
});

describe('convertTools', () => {
  it('tool_choice: auto, none, required, named', () => {
    const tools = [{ name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } } } }];
    assert.deepEqual(convertTools(tools, { type: 'auto' }).toolConfig, { functionCallingConfig: { mode: 'AUTO' } });
    assert.deepEqual(convertTools(tools, { type: 'none' }).toolConfig, { functionCallingConfig: { mode: 'NONE' } });
    assert.deepEqual(convertTools(tools, { type: 'required' }).toolConfig, { functionCallingConfig: { mode: 'ANY' } });
    assert.deepEqual(convertTools(tools, { type: 'tool', name: 'f' }).toolConfig, {
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['f'] },
    });
    assert.equal(convertTools(tools, undefined).toolConfig, undefined);
    assert.deepEqual(convertTools([], { type: 'auto' }), {});
  });

  it('a tool without parameters omits them; a recursive one uses parametersJsonSchema', () => {
    const { tools } = convertTools(
      [
        { name: 'now', description: 'Current time', parameters: { type: 'object', properties: {} } },
        { name: 'tree', parameters: { type: 'object', properties: { kids: { type: 'array', items: { $ref: '#' } } } } },
      ],
      undefined,
    );
    assert.deepEqual(tools![0]!.functionDeclarations[0], { name: 'now', description: 'Current time' });
    assert.deepEqual(tools![0]!.functionDeclarations[1], {
      name: 'tree',
      parametersJsonSchema: { type: 'object', properties: { kids: { type: 'array', items: { $ref: '#' } } } },
    });
  });
});
