import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { ErrorCode } from '../../../src/core/errors.ts';
import { mapGeminiError } from '../../../src/providers/gemini/map-gemini-error.ts';

/** One test per row of the Gemini error table (src/providers/gemini/map-gemini-error.ts), with Google's bodies. */

const SECRET = 'AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUv';

function body(code: number, status: string, message: string, details?: unknown[]) {
  return { error: { code, message, status, ...(details ? { details } : {}) } };
}

interface Row {
  name: string;
  status: number;
  body: unknown;
  retryAfter?: number;
  code: ErrorCode;
  retryable: boolean;
  failover: boolean;
  keyRejected?: boolean;
  expectRetryAfter?: number;
}

const ROWS: Row[] = [
  {
    name: '400 INVALID_ARGUMENT with API_KEY_INVALID → authentication_failed, key out',
    status: 400,
    body: body(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'API_KEY_INVALID',
        domain: 'googleapis.com',
        metadata: { service: 'generativelanguage.googleapis.com' },
      },
      { '@type': 'type.googleapis.com/google.rpc.DebugInfo', detail: `Invalid API key: ${SECRET}` },
    ]),
    code: 'authentication_failed',
    retryable: false,
    failover: true,
    keyRejected: true,
  },
  {
    name: '400 INVALID_ARGUMENT "exceeds the maximum number of tokens" → context_length_exceeded',
    status: 400,
    body: body(
      400,
      'INVALID_ARGUMENT',
      'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).',
    ),
    code: 'context_length_exceeded',
    retryable: false,
    failover: true,
  },
  {
    name: '400 INVALID_ARGUMENT for a feature the model lacks → invalid_request that may fail over',
    status: 400,
    body: body(400, 'INVALID_ARGUMENT', 'Penalty is not enabled for models/gemini-2.5-flash'),
    code: 'invalid_request',
    retryable: false,
    failover: true,
  },
  {
    name: '400 INVALID_ARGUMENT for an unsupported thinking level → invalid_request that may fail over',
    status: 400,
    body: body(
      400,
      'INVALID_ARGUMENT',
      'Thinking level MINIMAL is not supported for this model. Please retry with other thinking level.',
    ),
    code: 'invalid_request',
    retryable: false,
    failover: true,
  },
  {
    name: '400 INVALID_ARGUMENT for blocked content → content_filtered',
    status: 400,
    body: body(400, 'INVALID_ARGUMENT', 'The request was blocked because it contains prohibited content.'),
    code: 'content_filtered',
    retryable: false,
    failover: false,
  },
  {
    name: '400 INVALID_ARGUMENT otherwise → invalid_request, no failover',
    status: 400,
    body: body(400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.'),
    code: 'invalid_request',
    retryable: false,
    failover: false,
  },
  {
    name: '400 FAILED_PRECONDITION (billing, region) → permission_denied that may fail over',
    status: 400,
    body: body(
      400,
      'FAILED_PRECONDITION',
      'Gemini API free tier is not available in your country. Please enable billing on your project in Google AI Studio.',
    ),
    code: 'permission_denied',
    retryable: false,
    failover: true,
    keyRejected: false,
  },
  {
    name: '401 UNAUTHENTICATED → authentication_failed, key out',
    status: 401,
    body: body(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'),
    code: 'authentication_failed',
    retryable: false,
    failover: true,
    keyRejected: true,
  },
  {
    name: '403 PERMISSION_DENIED → permission_denied, key out',
    status: 403,
    body: body(403, 'PERMISSION_DENIED', `Permission denied: Consumer 'api_key:${SECRET}' has been suspended.`, [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'CONSUMER_SUSPENDED', domain: 'googleapis.com' },
    ]),
    code: 'permission_denied',
    retryable: false,
    failover: true,
    keyRejected: true,
  },
  {
    name: '404 NOT_FOUND (model) → not_found that may fail over',
    status: 404,
    body: body(
      404,
      'NOT_FOUND',
      'models/gemini-9 is not found for API version v1beta, or is not supported for generateContent.',
    ),
    code: 'not_found',
    retryable: false,
    failover: true,
  },
  {
    name: '413 payload too large → context_length_exceeded',
    status: 413,
    body: undefined,
    code: 'context_length_exceeded',
    retryable: false,
    failover: true,
  },
  {
    name: '429 RESOURCE_EXHAUSTED with RetryInfo → rate_limited, retryAfter from retryDelay (recorded sample)',
    status: 429,
    body: JSON.parse(
      readFileSync(new URL('../../fixtures/wire/google/google-429-retry-info.json', import.meta.url), 'utf8'),
    ),
    code: 'rate_limited',
    retryable: true,
    failover: true,
    expectRetryAfter: 35,
  },
  {
    name: '429 RESOURCE_EXHAUSTED without RetryInfo → rate_limited, retryAfter from the header',
    status: 429,
    body: body(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'),
    retryAfter: 7,
    code: 'rate_limited',
    retryable: true,
    failover: true,
    expectRetryAfter: 7,
  },
  {
    name: '500 INTERNAL → provider_unavailable, retryable',
    status: 500,
    body: body(
      500,
      'INTERNAL',
      'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
    ),
    code: 'provider_unavailable',
    retryable: true,
    failover: true,
  },
  {
    name: '503 UNAVAILABLE (overloaded) → provider_unavailable, retryable',
    status: 503,
    body: body(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'),
    code: 'provider_unavailable',
    retryable: true,
    failover: true,
  },
  {
    name: '504 DEADLINE_EXCEEDED → timeout, retryable',
    status: 504,
    body: body(504, 'DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.'),
    code: 'timeout',
    retryable: true,
    failover: true,
  },
  {
    name: 'a non-JSON 502 from a proxy → provider_unavailable, retryable',
    status: 502,
    body: undefined,
    code: 'provider_unavailable',
    retryable: true,
    failover: true,
  },
];

describe('mapGeminiError: one test per row', () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const input = { status: row.status, body: row.body, label: 'gemini', secret: SECRET };
      const err = mapGeminiError(row.retryAfter === undefined ? input : { ...input, retryAfter: row.retryAfter });
      assert.equal(err.code, row.code);
      assert.equal(err.retryable, row.retryable);
      assert.equal(err.failover, row.failover);
      assert.equal(err.keyRejected, row.keyRejected ?? false);
      assert.equal(err.upstreamStatus, row.status);
      if (row.expectRetryAfter !== undefined) assert.equal(err.retryAfter, row.expectRetryAfter);
      assert.ok(!err.message.includes(SECRET), `no key in: ${err.message}`);
      assert.ok(!err.message.includes('AIza'), `no key in: ${err.message}`);
    });
  }

  it('an error event in a stream carries its code as status (in-band 429)', () => {
    const err = mapGeminiError({
      status: 429,
      body: body(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded for quota metric.'),
      label: 'gemini',
    });
    assert.equal(err.code, 'rate_limited');
  });

  it('shows Google’s message (redacted) for request errors, so callers can fix their request', () => {
    const err = mapGeminiError({
      status: 400,
      body: body(
        400,
        'INVALID_ARGUMENT',
        '* GenerateContentRequest.contents[1].parts: contents.parts must not be empty.',
      ),
      label: 'gemini',
    });
    assert.match(err.message, /contents\.parts must not be empty/);
  });
});
