import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatRequest } from '../../../src/core/ir.ts';
import { bedrockModelFamily } from '../../../src/providers/bedrock/bedrock-model-family.ts';
import { planAnthropicThinking } from '../../../src/providers/bedrock/convert-reasoning.ts';
import { convertToBedrockRequest, JSON_TOOL_NAME } from '../../../src/providers/bedrock/convert-to-bedrock-request.ts';
import { convertTools } from '../../../src/providers/bedrock/convert-tools.ts';
import { chat } from './helpers.ts';

const images = new Map();
const opts = (family: ReturnType<typeof bedrockModelFamily>, jsonSchemaMode: 'native' | 'tool' = 'native') => ({
  family,
  images,
  jsonSchemaMode,
});
const model = { maxOutputTokens: 64_000 };

describe('convertTools', () => {
  const tools: ChatRequest['tools'] = [
    {
      name: 'a',
      description: 'A tool',
      parameters: { type: 'object', properties: { q: { type: 'string' } } },
      strict: true,
    },
    { name: 'b', parameters: { properties: { n: { type: 'number' } } } },
  ];

  it('builds toolSpecs with object schemas, no choice for auto', () => {
    assert.deepEqual(
      convertTools({ tools, toolChoice: { type: 'auto' }, historyToolNames: [], forwardStrict: false }),
      {
        tools: [
          {
            toolSpec: {
              name: 'a',
              description: 'A tool',
              inputSchema: { json: { type: 'object', properties: { q: { type: 'string' } } } },
            },
          },
          { toolSpec: { name: 'b', inputSchema: { json: { type: 'object', properties: { n: { type: 'number' } } } } } },
        ],
      },
    );
  });

  it('maps required → any, tool → tool, and forwards strict only when asked', () => {
    const required = convertTools({
      tools,
      toolChoice: { type: 'required' },
      historyToolNames: [],
      forwardStrict: true,
    });
    assert.deepEqual(required?.toolChoice, { any: {} });
    assert.equal((required!.tools[0] as { toolSpec: { strict?: boolean } }).toolSpec.strict, true);
    const named = convertTools({
      tools,
      toolChoice: { type: 'tool', name: 'b' },
      historyToolNames: [],
      forwardStrict: false,
    });
    assert.deepEqual(named?.toolChoice, { tool: { name: 'b' } });
  });

  it('omits tools for none, unless the history needs them declared; declares history-only tools', () => {
    assert.equal(
      convertTools({ tools, toolChoice: { type: 'none' }, historyToolNames: [], forwardStrict: false }),
      undefined,
    );
    const kept = convertTools({
      tools,
      toolChoice: { type: 'none' },
      historyToolNames: ['a', 'gone'],
      forwardStrict: false,
    });
    assert.deepEqual(
      kept?.tools.map((t) => ('toolSpec' in t ? t.toolSpec.name : '')),
      ['a', 'b', 'gone'],
    );
    assert.equal(kept?.toolChoice, undefined);
    const noTools = convertTools({
      tools: undefined,
      toolChoice: undefined,
      historyToolNames: ['x'],
      forwardStrict: false,
    });
    assert.deepEqual(noTools, {
      tools: [
        {
          toolSpec: {
            name: 'x',
            description: 'A tool used earlier in this conversation.',
            inputSchema: { json: { type: 'object', properties: {} } },
          },
        },
      ],
    });
  });
});

describe('convertToBedrockRequest', () => {
  it('leaves inferenceConfig out when nothing is set and passes stop sequences', () => {
    assert.equal(convertToBedrockRequest(chat(), model, opts('meta')).body.inferenceConfig, undefined);
    const body = convertToBedrockRequest(chat({ stop: ['END'], maxTokens: 10 }), model, opts('meta')).body;
    assert.deepEqual(body.inferenceConfig, { maxTokens: 10, stopSequences: ['END'] });
    assert.equal(body.additionalModelResponseFieldPaths, undefined, 'only Anthropic reports the matched sequence');
  });

  it('sends Anthropic models temperature or top_p, not both', () => {
    const both = chat({ temperature: 0.4, topP: 0.8 });
    assert.deepEqual(convertToBedrockRequest(both, model, opts('anthropic')).body.inferenceConfig, {
      temperature: 0.4,
    });
    assert.deepEqual(convertToBedrockRequest(both, model, opts('meta')).body.inferenceConfig, {
      temperature: 0.4,
      topP: 0.8,
    });
    assert.deepEqual(convertToBedrockRequest(chat({ topP: 0.8 }), model, opts('anthropic')).body.inferenceConfig, {
      topP: 0.8,
    });
  });

  it('sends top_k to Anthropic models only', () => {
    assert.deepEqual(
      convertToBedrockRequest(chat({ topK: 7 }), model, opts('anthropic')).body.additionalModelRequestFields,
      { top_k: 7 },
    );
    assert.equal(
      convertToBedrockRequest(chat({ topK: 7 }), model, opts('nova')).body.additionalModelRequestFields,
      undefined,
    );
  });

  it('enables thinking for Anthropic only, dropping temperature and low topP, keeping maxTokens above the budget', () => {
    const request = chat({ reasoning: { effort: 'high' }, temperature: 0.3, topP: 0.5, maxTokens: 30_000 });
    const body = convertToBedrockRequest(request, model, opts('anthropic')).body;
    assert.deepEqual(body.additionalModelRequestFields, { thinking: { type: 'enabled', budget_tokens: 24_576 } });
    assert.deepEqual(body.inferenceConfig, { maxTokens: 30_000 });
    const kept = convertToBedrockRequest(
      chat({ reasoning: { effort: 'low' }, topP: 0.97 }),
      model,
      opts('anthropic'),
    ).body;
    assert.equal(kept.inferenceConfig?.topP, 0.97);
    const nova = convertToBedrockRequest(request, model, opts('nova')).body;
    assert.equal(nova.additionalModelRequestFields, undefined);
    assert.deepEqual(nova.inferenceConfig, { maxTokens: 30_000, temperature: 0.3, topP: 0.5 });
  });

  it('plans thinking budgets within Anthropic limits', () => {
    assert.deepEqual(planAnthropicThinking({ reasoning: { effort: 'medium' } }, model, false), {
      budgetTokens: 8192,
      maxTokens: 8192 + 8192,
    });
    assert.deepEqual(planAnthropicThinking({ reasoning: { budgetTokens: 500 } }, model, false), {
      budgetTokens: 1024,
      maxTokens: 1024 + 8192,
    });
    assert.deepEqual(planAnthropicThinking({ reasoning: { effort: 'high' }, maxTokens: 4000 }, model, false), {
      budgetTokens: 4000 - 1024,
      maxTokens: 4000,
    });
    assert.deepEqual(planAnthropicThinking({ reasoning: { effort: 'high' } }, { maxOutputTokens: 8192 }, false), {
      budgetTokens: 8192 - 1024,
      maxTokens: 8192,
    });
    assert.equal(planAnthropicThinking({ reasoning: { effort: 'high' }, maxTokens: 1500 }, model, false), undefined);
    assert.equal(planAnthropicThinking({ reasoning: { effort: 'minimal' } }, model, false), undefined);
    assert.equal(planAnthropicThinking({ reasoning: { effort: 'low' } }, model, true), undefined, 'forced tool');
    assert.equal(
      planAnthropicThinking({ reasoning: { effort: 'low' }, toolChoice: { type: 'required' } }, model, false),
      undefined,
    );
    assert.equal(planAnthropicThinking({}, model, false), undefined);
  });

  it('continues a tool loop without thinking when the calling turn has no signed thinking', () => {
    const loop = (reasoning?: Array<{ text: string; signature?: string }>): ChatRequest['messages'] => [
      { role: 'user', content: [{ type: 'text', text: 'Weather?' }] },
      {
        role: 'assistant',
        content: [],
        toolCalls: [{ id: 'c1', name: 'w', arguments: '{}' }],
        ...(reasoning ? { reasoning } : {}),
      },
      { role: 'tool', toolCallId: 'c1', content: [{ type: 'text', text: 'sunny' }] },
    ];
    const reasoning = { effort: 'low' as const };
    assert.equal(planAnthropicThinking({ reasoning, messages: loop() }, model, false), undefined);
    assert.equal(planAnthropicThinking({ reasoning, messages: loop([{ text: 'hm' }]) }, model, false), undefined);
    assert.ok(planAnthropicThinking({ reasoning, messages: loop([{ text: 'hm', signature: 's' }]) }, model, false));
    const closed = [...loop(), { role: 'user' as const, content: [{ type: 'text' as const, text: 'And now?' }] }];
    assert.ok(planAnthropicThinking({ reasoning, messages: closed }, model, false), 'a new user turn starts afresh');
  });

  it('json_schema natively: outputConfig with the schema as a JSON string; strict tools forwarded', () => {
    const schema = {
      type: 'object',
      properties: { a: { type: 'string' } },
      required: ['a'],
      additionalProperties: false,
    };
    const plan = convertToBedrockRequest(
      chat({
        responseFormat: { type: 'json_schema', name: 'out', description: 'The output', schema },
        tools: [{ name: 't', parameters: { type: 'object' }, strict: true }],
      }),
      model,
      opts('anthropic'),
    );
    assert.deepEqual(plan.body.outputConfig, {
      textFormat: {
        type: 'json_schema',
        structure: { jsonSchema: { schema: JSON.stringify(schema), name: 'out', description: 'The output' } },
      },
    });
    assert.equal(plan.jsonToolName, undefined);
    assert.deepEqual(plan.body.toolConfig?.tools[0], {
      toolSpec: { name: 't', inputSchema: { json: { type: 'object' } }, strict: true },
    });
  });

  it('json_schema in tool mode: a forced json_response tool, or any tool when the caller has tools; no thinking', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    const alone = convertToBedrockRequest(
      chat({ responseFormat: { type: 'json_schema', name: 'out', schema }, reasoning: { effort: 'low' } }),
      model,
      opts('anthropic', 'tool'),
    );
    assert.equal(alone.jsonToolName, JSON_TOOL_NAME);
    assert.deepEqual(alone.body.toolConfig, {
      tools: [
        {
          toolSpec: {
            name: JSON_TOOL_NAME,
            description: 'Give the final answer as JSON matching this schema.',
            inputSchema: { json: schema },
          },
        },
      ],
      toolChoice: { tool: { name: JSON_TOOL_NAME } },
    });
    assert.equal(alone.body.additionalModelRequestFields, undefined, 'a forced tool rules out thinking');
    const withTools = convertToBedrockRequest(
      chat({ responseFormat: { type: 'json_schema', name: 'out', schema }, tools: [{ name: 't', parameters: {} }] }),
      model,
      opts('anthropic', 'tool'),
    );
    assert.deepEqual(withTools.body.toolConfig?.toolChoice, { any: {} });
    assert.equal(withTools.body.toolConfig?.tools.length, 2);
  });
});

describe('bedrockModelFamily', () => {
  it('recognises families through region prefixes and ARNs', () => {
    assert.equal(bedrockModelFamily('anthropic.claude-3-haiku-20240307-v1:0'), 'anthropic');
    assert.equal(bedrockModelFamily('us.anthropic.claude-sonnet-4-20250514-v1:0'), 'anthropic');
    assert.equal(
      bedrockModelFamily(
        'arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0',
      ),
      'anthropic',
    );
    assert.equal(bedrockModelFamily('amazon.nova-lite-v1:0'), 'nova');
    assert.equal(bedrockModelFamily('mistral.mistral-large-2407-v1:0'), 'mistral');
    assert.equal(bedrockModelFamily('meta.llama3-1-70b-instruct-v1:0'), 'meta');
    assert.equal(
      bedrockModelFamily('arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123'),
      'other',
    );
  });
});
