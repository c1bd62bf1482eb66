/** The Bedrock error table, one test per documented error, and the stop-reason and usage mappings. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ErrorCode } from '../../../src/core/errors.ts';
import { convertBedrockUsage } from '../../../src/providers/bedrock/convert-bedrock-usage.ts';
import {
  BEDROCK_ERRORS,
  mapBedrockError,
  normalizeErrorType,
} from '../../../src/providers/bedrock/map-bedrock-error.ts';
import { mapBedrockStopReason, matchedStopSequence } from '../../../src/providers/bedrock/map-bedrock-stop-reason.ts';

const NS = ':http://internal.amazon.com/coral/com.amazon.bedrock/';

interface Row {
  type: string;
  status: number;
  message: string;
  code: ErrorCode;
  retryable: boolean;
  failover: boolean;
  keyRejected: boolean;
}

const ROWS: Row[] = [
  {
    type: 'ValidationException',
    status: 400,
    message: 'temperature: must be less than or equal to 1',
    code: 'invalid_request',
    retryable: false,
    failover: false,
    keyRejected: false,
  },
  {
    type: 'AccessDeniedException',
    status: 403,
    message: "You don't have access to the model with the specified model ID.",
    code: 'permission_denied',
    retryable: false,
    failover: true,
    keyRejected: true,
  },
  {
    type: 'UnrecognizedClientException',
    status: 403,
    message: 'The security token included in the request is invalid.',
    code: 'authentication_failed',
    retryable: false,
    failover: true,
    keyRejected: true,
  },
  {
    type: 'InvalidSignatureException',
    status: 403,
    message: 'The request signature we calculated does not match the signature you provided.',
    code: 'authentication_failed',
    retryable: false,
    failover: true,
    keyRejected: true,
  },
  {
    type: 'ExpiredTokenException',
    status: 403,
    message: 'The security token included in the request is expired',
    code: 'authentication_failed',
    retryable: false,
    failover: true,
    keyRejected: true,
  },
  {
    type: 'MissingAuthenticationTokenException',
    status: 403,
    message: 'Missing Authentication Token',
    code: 'authentication_failed',
    retryable: false,
    failover: true,
    keyRejected: true,
  },
  {
    type: 'IncompleteSignatureException',
    status: 403,
    message: "Authorization header requires 'Credential' parameter.",
    code: 'authentication_failed',
    retryable: false,
    failover: true,
    keyRejected: false,
  },
  {
    type: 'ResourceNotFoundException',
    status: 404,
    message: 'Could not resolve the foundation model from the provided model identifier.',
    code: 'not_found',
    retryable: false,
    failover: true,
    keyRejected: false,
  },
  {
    type: 'UnknownOperationException',
    status: 404,
    message: '',
    code: 'not_found',
    retryable: false,
    failover: true,
    keyRejected: false,
  },
  {
    type: 'ThrottlingException',
    status: 429,
    message: 'Too many requests, please wait before trying again.',
    code: 'rate_limited',
    retryable: true,
    failover: true,
    keyRejected: false,
  },
  {
    type: 'ServiceQuotaExceededException',
    status: 400,
    message: 'Your request exceeds the service quota for your account.',
    code: 'rate_limited',
    retryable: true,
    failover: true,
    keyRejected: false,
  },
  {
    type: 'ModelTimeoutException',
    status: 408,
    message: 'Model has timed out in processing the request.',
    code: 'timeout',
    retryable: true,
    failover: true,
    keyRejected: false,
  },
  {
    type: 'ModelNotReadyException',
    status: 429,
    message: 'Model is not ready for inference.',
    code: 'provider_unavailable',
    retryable: true,
    failover: true,
    keyRejected: false,
  },
  {
    type: 'ModelErrorException',
    status: 424,
    message: 'The model encountered an error.',
    code: 'provider_unavailable',
    retryable: true,
    failover: true,
    keyRejected: false,
  },
  {
    type: 'ModelStreamErrorException',
    status: 424,
    message: 'Model Stream Error',
    code: 'provider_unavailable',
    retryable: true,
    failover: true,
    keyRejected: false,
  },
  {
    type: 'InternalServerException',
    status: 500,
    message: 'The system encountered an unexpected error.',
    code: 'provider_unavailable',
    retryable: true,
    failover: true,
    keyRejected: false,
  },
  {
    type: 'InternalFailure',
    status: 500,
    message: 'The request processing has failed because of an unknown error.',
    code: 'provider_unavailable',
    retryable: true,
    failover: true,
    keyRejected: false,
  },
  {
    type: 'ServiceUnavailableException',
    status: 503,
    message: 'Bedrock is unable to process your request.',
    code: 'provider_unavailable',
    retryable: true,
    failover: true,
    keyRejected: false,
  },
  {
    type: 'ServiceUnavailable',
    status: 503,
    message: 'Service is unavailable.',
    code: 'provider_unavailable',
    retryable: true,
    failover: true,
    keyRejected: false,
  },
  {
    type: 'ConflictException',
    status: 400,
    message: 'Conflict.',
    code: 'invalid_request',
    retryable: false,
    failover: false,
    keyRejected: false,
  },
  {
    type: 'SerializationException',
    status: 400,
    message: 'Unexpected token.',
    code: 'invalid_request',
    retryable: false,
    failover: true,
    keyRejected: false,
  },
];

describe('mapBedrockError: the table, one row each', () => {
  it('has a test row for every table entry', () => {
    assert.deepEqual(ROWS.map((r) => r.type).sort(), Object.keys(BEDROCK_ERRORS).sort());
  });

  for (const row of ROWS) {
    it(`${row.type} (${row.status}) → ${row.code}`, () => {
      const err = mapBedrockError({
        errorType: `${row.type}${NS}`,
        status: row.status,
        message: row.message,
        label: 'bedrock',
      });
      assert.equal(err.code, row.code);
      assert.equal(err.retryable, row.retryable);
      assert.equal(err.failover, row.failover);
      assert.equal(err.keyRejected, row.keyRejected);
      assert.equal(err.upstreamStatus, row.status);
      assert.match(err.message, /bedrock/);
      // The same error arriving as a stream exception (lower camel case, no HTTP status) maps the same way.
      const streamed = mapBedrockError({
        errorType: row.type[0]!.toLowerCase() + row.type.slice(1),
        message: row.message,
        label: 'bedrock',
      });
      assert.equal(streamed.code, row.code);
      assert.equal(streamed.upstreamStatus, row.status);
    });
  }
});

describe('mapBedrockError: messages decide within validation and model errors', () => {
  it('context too long → context_length_exceeded, failover', () => {
    for (const message of [
      'Input is too long for requested model.',
      'The model returned the following errors: prompt is too long: 210000 tokens > 200000 maximum',
      'Too many input tokens. Max input tokens: 8192, request input token count: 9000',
      'The model returned the following errors: input length and `max_tokens` exceed context limit: 198000 + 8192 > 200000',
    ]) {
      const err = mapBedrockError({ errorType: 'ValidationException', status: 400, message, label: 'bedrock' });
      assert.equal(err.code, 'context_length_exceeded', message);
      assert.equal(err.failover, true);
    }
  });

  it('content policy → content_filtered', () => {
    const err = mapBedrockError({
      errorType: 'ValidationException',
      status: 400,
      message: 'Output blocked by content filtering policy',
      label: 'bedrock',
    });
    assert.equal(err.code, 'content_filtered');
  });

  it('a max_tokens limit is not a context overflow', () => {
    const err = mapBedrockError({
      errorType: 'ValidationException',
      status: 400,
      message: 'The maximum tokens you requested exceeds the model limit of 8192.',
      label: 'bedrock',
    });
    assert.equal(err.code, 'invalid_request');
  });

  it('keeps the upstream text for validation errors, with anything secret-looking redacted', () => {
    const err = mapBedrockError({
      errorType: 'ValidationException',
      status: 400,
      message: 'Bad key AKIAIOSFODNN7EXAMPLE in request',
      label: 'bedrock',
    });
    assert.match(err.message, /rejected the request: Bad key/);
    assert.ok(!err.message.includes('AKIAIOSFODNN7EXAMPLE'));
  });

  it('never repeats authentication error text (it can echo signing material)', () => {
    const err = mapBedrockError({
      errorType: 'InvalidSignatureException',
      status: 403,
      message: "The Canonical String for this request should have been 'POST ... x-amz-security-token:IQoJsecret'",
      label: 'bedrock',
    });
    assert.ok(!err.message.includes('IQoJ'));
    assert.ok(!err.message.includes('Canonical'));
  });
});

describe('mapBedrockError: unknown types fall back on the status', () => {
  const cases: Array<[number, ErrorCode]> = [
    [400, 'invalid_request'],
    [401, 'authentication_failed'],
    [403, 'authentication_failed'],
    [404, 'not_found'],
    [408, 'timeout'],
    [413, 'context_length_exceeded'],
    [429, 'rate_limited'],
    [500, 'provider_unavailable'],
    [502, 'provider_unavailable'],
    [504, 'timeout'],
  ];
  for (const [status, code] of cases) {
    it(`${status} → ${code}`, () => {
      assert.equal(mapBedrockError({ errorType: undefined, status, message: 'x', label: 'bedrock' }).code, code);
    });
  }
  it('passes Retry-After through', () => {
    const err = mapBedrockError({
      errorType: 'ThrottlingException',
      status: 429,
      message: '',
      label: 'b',
      retryAfter: 7,
    });
    assert.equal(err.retryAfter, 7);
  });
  it('normalizes header and __type spellings', () => {
    assert.equal(
      normalizeErrorType('ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/'),
      'ValidationException',
    );
    assert.equal(
      normalizeErrorType('com.amazon.coral.service#UnrecognizedClientException'),
      'UnrecognizedClientException',
    );
    assert.equal(normalizeErrorType('throttlingException'), 'ThrottlingException');
    assert.equal(normalizeErrorType(''), undefined);
  });
});

describe('mapBedrockStopReason', () => {
  const cases: Array<[string | undefined, string]> = [
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['tool_use', 'tool_calls'],
    ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['guardrail_intervened', 'content_filter'],
    ['content_filtered', 'content_filter'],
    ['malformed_model_output', 'malformed'],
    ['malformed_tool_use', 'malformed'],
    ['something_new', 'stop'],
    [undefined, 'stop'],
  ];
  for (const [reason, expected] of cases) {
    it(`${reason} → ${expected}`, () => assert.equal(mapBedrockStopReason(reason), expected));
  }
  it('reads the matched stop sequence from either response shape', () => {
    assert.equal(matchedStopSequence({ stop_sequence: 'END' }), 'END');
    assert.equal(matchedStopSequence({ delta: { stop_sequence: 'END' } }), 'END');
    assert.equal(matchedStopSequence({ delta: { stop_sequence: null } }), undefined);
    assert.equal(matchedStopSequence(undefined), undefined);
  });
});

describe('convertBedrockUsage', () => {
  it('adds cache reads and writes to the uncached input: the IR counts the whole prompt', () => {
    assert.deepEqual(
      convertBedrockUsage({
        inputTokens: 20,
        outputTokens: 50,
        totalTokens: 1570,
        cacheReadInputTokens: 1000,
        cacheWriteInputTokens: 500,
      }),
      { inputTokens: 1520, cachedInputTokens: 1000, cacheWriteTokens: 500, outputTokens: 50, reasoningTokens: 0 },
    );
  });
  it('reads the older *Count spellings and tolerates missing usage', () => {
    assert.deepEqual(
      convertBedrockUsage({ inputTokens: 5, cacheReadInputTokenCount: 3, cacheWriteInputTokenCount: 2 }),
      {
        inputTokens: 10,
        cachedInputTokens: 3,
        cacheWriteTokens: 2,
        outputTokens: 0,
        reasoningTokens: 0,
      },
    );
    assert.deepEqual(convertBedrockUsage(undefined), {
      inputTokens: 0,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 0,
      reasoningTokens: 0,
    });
  });
});
