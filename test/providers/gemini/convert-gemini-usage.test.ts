import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { convertGeminiUsage, hasTokenCounts } from '../../../src/providers/gemini/convert-gemini-usage.ts';
import { mapGeminiFinishReason } from '../../../src/providers/gemini/map-gemini-finish-reason.ts';

describe('convertGeminiUsage', () => {
  it('input includes cached and tool-use prompt tokens; output includes thoughts; the sum is totalTokenCount', () => {
    const metadata = {
      promptTokenCount: 1000,
      cachedContentTokenCount: 600,
      toolUsePromptTokenCount: 50,
      candidatesTokenCount: 200,
      thoughtsTokenCount: 300,
      totalTokenCount: 1550,
    };
    const usage = convertGeminiUsage(metadata);
    assert.deepEqual(usage, {
      inputTokens: 1050,
      cachedInputTokens: 600,
      cacheWriteTokens: 0,
      outputTokens: 500,
      reasoningTokens: 300,
    });
    assert.equal(usage.inputTokens + usage.outputTokens, metadata.totalTokenCount);
  });

  it('missing counts are zero; metadata without counts is not usage', () => {
    assert.deepEqual(convertGeminiUsage(undefined), {
      inputTokens: 0,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 0,
      reasoningTokens: 0,
    });
    assert.equal(hasTokenCounts({ trafficType: 'ON_DEMAND' }), false);
    assert.equal(hasTokenCounts({ promptTokenCount: 3 }), true);
  });
});

describe('mapGeminiFinishReason', () => {
  const table: Array<[string, boolean, string]> = [
    ['STOP', false, 'stop'],
    ['STOP', true, 'tool_calls'],
    ['MAX_TOKENS', false, 'length'],
    ['MAX_TOKENS', true, 'length'],
    ['CONTINUATION', false, 'length'],
    ['SAFETY', false, 'content_filter'],
    ['RECITATION', false, 'content_filter'],
    ['LANGUAGE', false, 'content_filter'],
    ['BLOCKLIST', false, 'content_filter'],
    ['PROHIBITED_CONTENT', false, 'content_filter'],
    ['SPII', false, 'content_filter'],
    ['IMAGE_SAFETY', false, 'content_filter'],
    ['OTHER', false, 'stop'],
    ['FINISH_REASON_UNSPECIFIED', false, 'stop'],
    ['SOMETHING_NEW', true, 'tool_calls'],
    ['constructor', false, 'stop'],
  ];
  for (const [reason, calls, expected] of table) {
    it(`${reason}${calls ? ' with calls' : ''} → ${expected}`, () => {
      assert.equal(mapGeminiFinishReason(reason, calls, 'gemini'), expected);
    });
  }
  for (const reason of [
    'MALFORMED_FUNCTION_CALL',
    'UNEXPECTED_TOOL_CALL',
    'TOO_MANY_TOOL_CALLS',
    'MALFORMED_RESPONSE',
  ]) {
    it(`${reason} → retryable provider_unavailable`, () => {
      assert.throws(() => mapGeminiFinishReason(reason, false, 'gemini'), {
        code: 'provider_unavailable',
        retryable: true,
      });
    });
  }
});
