import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ErrorCode } from '../../../src/core/errors.ts';
import {
  ANTHROPIC_ERROR_TABLE,
  findAnthropicErrorRow,
  mapAnthropicError,
  statusOfAnthropicErrorType,
} from '../../../src/providers/anthropic/map-anthropic-error.ts';

/** One case per row of the error table, with the bodies Anthropic sends for it. */

function body(type: string, message: string, errorCode?: string) {
  return {
    type: 'error',
    error: { type, message, ...(errorCode ? { details: { error_code: errorCode } } : {}) },
    request_id: 'req_011CSHoEeqs5C35K2UUqR7Fy',
  };
}

interface Case {
  row: string;
  status: number;
  body: unknown;
  code: ErrorCode;
  retryable: boolean;
  failover: boolean;
  keyRejected: boolean;
  retryAfter?: number;
  message?: RegExp;
}

const CASES: Case[] = [
  {
    row: 'context too long',
    status: 400,
    body: body('invalid_request_error', 'prompt is too long: 208310 tokens > 200000 maximum'),
    code: 'context_length_exceeded',
    retryable: false,
    failover: true,
    keyRejected: false,
    message: /prompt is too long: 208310 tokens > 200000 maximum/,
  },
  {
    row: 'credit exhausted',
    status: 400,
    body: body(
      'invalid_request_error',
      'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing.',
    ),
    code: 'quota_exceeded',
    retryable: false,
    failover: true,
    keyRejected: true,
  },
  {
    row: 'content policy',
    status: 400,
    body: body('invalid_request_error', 'Output blocked by content filtering policy'),
    code: 'content_filtered',
    retryable: false,
    failover: false,
    keyRejected: false,
  },
  {
    row: 'unsupported by this model',
    status: 400,
    body: body('invalid_request_error', '`temperature` is deprecated for this model.'),
    code: 'invalid_request',
    retryable: false,
    failover: true,
    keyRejected: false,
  },
  {
    row: 'invalid request',
    status: 400,
    body: body('invalid_request_error', 'messages: roles must alternate between "user" and "assistant"'),
    code: 'invalid_request',
    retryable: false,
    failover: false,
    keyRejected: false,
    message: /roles must alternate/,
  },
  {
    row: 'authentication',
    status: 401,
    body: body('authentication_error', 'invalid x-api-key'),
    code: 'authentication_failed',
    retryable: false,
    failover: true,
    keyRejected: true,
  },
  {
    row: 'billing',
    status: 402,
    body: body('billing_error', 'Payment required'),
    code: 'quota_exceeded',
    retryable: false,
    failover: true,
    keyRejected: true,
  },
  {
    row: 'permission',
    status: 403,
    body: body('permission_error', 'Your API key does not have permission to use the specified resource.'),
    code: 'permission_denied',
    retryable: false,
    failover: true,
    keyRejected: true,
  },
  {
    row: 'not found',
    status: 404,
    body: body('not_found_error', 'model: claude-opus-9'),
    code: 'not_found',
    retryable: false,
    failover: true,
    keyRejected: false,
    message: /model: claude-opus-9/,
  },
  {
    row: 'conflict',
    status: 409,
    body: body('conflict_error', 'Conflict'),
    code: 'provider_unavailable',
    retryable: true,
    failover: true,
    keyRejected: false,
  },
  {
    row: 'request too large',
    status: 413,
    body: body('request_too_large', 'Request exceeds the maximum allowed number of bytes.'),
    code: 'invalid_request',
    retryable: false,
    failover: false,
    keyRejected: false,
  },
  {
    row: 'spend limit',
    status: 429,
    body: body('rate_limit_error', 'Monthly spend limit reached', 'enforced_spend_limit_reached'),
    code: 'quota_exceeded',
    retryable: false,
    failover: true,
    keyRejected: true,
  },
  {
    row: 'spend limit (message)',
    status: 429,
    body: body('rate_limit_error', 'You have reached your specified API usage limits.'),
    code: 'quota_exceeded',
    retryable: false,
    failover: true,
    keyRejected: true,
  },
  {
    row: 'rate limit',
    status: 429,
    body: body('rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit'),
    code: 'rate_limited',
    retryable: true,
    failover: true,
    keyRejected: false,
    retryAfter: 12,
  },
  {
    row: 'api error',
    status: 500,
    body: body('api_error', 'Internal server error'),
    code: 'provider_unavailable',
    retryable: true,
    failover: true,
    keyRejected: false,
  },
  {
    row: 'unavailable',
    status: 503,
    body: undefined,
    code: 'provider_unavailable',
    retryable: true,
    failover: true,
    keyRejected: false,
  },
  {
    row: 'timeout',
    status: 504,
    body: body('timeout_error', 'Request timed out'),
    code: 'timeout',
    retryable: true,
    failover: true,
    keyRejected: false,
  },
  {
    row: 'overloaded',
    status: 529,
    body: body('overloaded_error', 'Overloaded'),
    code: 'provider_unavailable',
    retryable: true,
    failover: true,
    keyRejected: false,
    retryAfter: 3,
  },
  {
    row: 'other 4xx',
    status: 422,
    body: body('invalid_request_error', 'Unprocessable'),
    code: 'invalid_request',
    retryable: false,
    failover: false,
    keyRejected: false,
  },
  {
    row: 'other 5xx',
    status: 501,
    body: '<html>oops</html>',
    code: 'provider_unavailable',
    retryable: true,
    failover: true,
    keyRejected: false,
  },
];

describe('Anthropic error table', () => {
  test('every row has a case below', () => {
    assert.deepEqual(CASES.map((c) => c.row).sort(), ANTHROPIC_ERROR_TABLE.map((r) => r.name).sort());
  });

  for (const c of CASES) {
    test(`${c.status} ${c.row} → ${c.code}`, () => {
      assert.equal(findAnthropicErrorRow(c.status, c.body).name, c.row);
      const err = mapAnthropicError({ status: c.status, body: c.body, retryAfter: c.retryAfter, label: 'anthropic' });
      assert.equal(err.code, c.code);
      assert.equal(err.retryable, c.retryable);
      assert.equal(err.failover, c.failover);
      assert.equal(err.keyRejected, c.keyRejected);
      assert.equal(err.upstreamStatus, c.status);
      assert.equal(err.retryAfter, c.retryAfter);
      assert.match(err.message, /^Upstream anthropic/);
      if (c.message) assert.match(err.message, c.message);
    });
  }

  test('the key never appears in a message, even when the upstream echoes it', () => {
    const secret = 'sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789';
    const err = mapAnthropicError({
      status: 400,
      body: body('invalid_request_error', `bad header x-api-key: ${secret} is malformed`),
      label: 'anthropic',
      secret,
    });
    assert.doesNotMatch(err.message, /abcdefghijklmnop/);
    assert.match(err.message, /malformed/);
    const auth = mapAnthropicError({
      status: 401,
      body: body('authentication_error', `invalid key ${secret}`),
      label: 'a',
      secret,
    });
    assert.doesNotMatch(auth.message, /abcdefghijklmnop/);
  });

  test('in-stream error types map to the status Anthropic uses for them', () => {
    assert.equal(statusOfAnthropicErrorType('overloaded_error'), 529);
    assert.equal(statusOfAnthropicErrorType('rate_limit_error'), 429);
    assert.equal(statusOfAnthropicErrorType('invalid_request_error'), 400);
    assert.equal(statusOfAnthropicErrorType('request_too_large'), 413);
    assert.equal(statusOfAnthropicErrorType('something_new'), 500);
  });
});
