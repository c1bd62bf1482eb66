/**
 * Error bodies of the OpenAI-compatible family, per provider, as those providers send them. Each table maps an
 * HTTP status (or a named situation) to a body; a status a table lacks falls back to OpenAI's shape (so, e.g.,
 * a Groq or Mistral 500 is OpenAI-shaped here: their real 5xx bodies were not available to copy).
 *
 * Sources (observed bodies quoted in public bug reports and the providers' docs):
 * @see https://platform.openai.com/docs/guides/error-codes
 * @see https://console.groq.com/docs/errors
 * @see https://docs.mistral.ai/api/ (422 `extra_forbidden` bodies from pydantic validation)
 * @see https://api-docs.deepseek.com/quick_start/error_codes
 * @see https://learn.microsoft.com/en-us/azure/ai-services/openai/reference
 */
import { STATUS_CODES } from 'node:http';

export interface ErrorContext {
  model: string;
  /** The key the caller sent (already known to be wrong when used); shown masked, as providers do. */
  key: string;
  /** The request parameter at fault (unsupported-param). */
  param: string;
  retryAfterSeconds: number;
  apiVersion: string;
  method: string;
  path: string;
}

/** Statuses plus the situations that have their own body. */
export type ErrorSituation =
  | number
  | 'missing-key'
  | 'unsupported-param'
  | 'invalid-json'
  | 'missing-model'
  | 'missing-messages'
  | 'no-route';
export type ErrorTable = Partial<Record<ErrorSituation, (ctx: ErrorContext) => unknown>>;

/** `sk-abc12345************************wxyz`: OpenAI's way of echoing a wrong key without revealing it. */
export function maskKey(key: string): string {
  if (key.length <= 12) return '*'.repeat(key.length);
  return key.slice(0, 8) + '*'.repeat(key.length - 12) + key.slice(-4);
}

const openAIError = (message: string, type: string, code: string | null, param: string | null = null) => ({
  error: { message, type, param, code },
});

export const OPENAI_ERRORS: ErrorTable = {
  'missing-key': () =>
    openAIError(
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.",
      'invalid_request_error',
      null,
    ),
  'invalid-json': () =>
    openAIError(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
      'invalid_request_error',
      null,
    ),
  'missing-model': () => openAIError('you must provide a model parameter', 'invalid_request_error', null),
  'missing-messages': () =>
    openAIError(
      "Missing required parameter: 'messages'.",
      'invalid_request_error',
      'missing_required_parameter',
      'messages',
    ),
  'no-route': (c) => openAIError(`Invalid URL (${c.method} ${c.path})`, 'invalid_request_error', null),
  'unsupported-param': (c) =>
    openAIError(
      `Unsupported parameter: '${c.param}' is not supported with this model.`,
      'invalid_request_error',
      'unsupported_parameter',
      c.param,
    ),
  400: () =>
    openAIError(
      "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens. Please reduce the length of the messages.",
      'invalid_request_error',
      'context_length_exceeded',
      'messages',
    ),
  401: (c) =>
    openAIError(
      `Incorrect API key provided: ${maskKey(c.key)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      'invalid_request_error',
      'invalid_api_key',
    ),
  403: () =>
    openAIError(
      'Country, region, or territory not supported',
      'request_forbidden',
      'unsupported_country_region_territory',
    ),
  404: (c) =>
    openAIError(
      `The model \`${c.model}\` does not exist or you do not have access to it.`,
      'invalid_request_error',
      'model_not_found',
    ),
  429: (c) =>
    openAIError(
      `Rate limit reached for ${c.model} in organization org-mock on tokens per min (TPM): Limit 30000, Used 29500, Requested 1200. Please try again in ${c.retryAfterSeconds}s. Visit https://platform.openai.com/account/rate-limits to learn more.`,
      'tokens',
      'rate_limit_exceeded',
    ),
  500: () =>
    openAIError('The server had an error while processing your request. Sorry about that!', 'server_error', null),
  503: () => openAIError('The engine is currently overloaded, please try again later', 'server_error', null),
};

/** Groq's envelope has no `param`. */
const groqError = (message: string, type: string, code?: string) => ({
  error: { message, type, ...(code ? { code } : {}) },
});

export const GROQ_ERRORS: ErrorTable = {
  'missing-key': () => groqError('Invalid API Key', 'invalid_request_error', 'invalid_api_key'),
  401: () => groqError('Invalid API Key', 'invalid_request_error', 'invalid_api_key'),
  'unsupported-param': (c) => groqError(`property '${c.param}' is unsupported`, 'invalid_request_error'),
  404: (c) =>
    groqError(
      `The model \`${c.model}\` does not exist or you do not have access to it.`,
      'invalid_request_error',
      'model_not_found',
    ),
  429: (c) =>
    groqError(
      `Rate limit reached for model \`${c.model}\` in organization \`org_mock\` service tier \`on_demand\` on tokens per minute (TPM): Limit 6000, Used 5034, Requested 1443. Please try again in ${c.retryAfterSeconds}s. Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing`,
      'tokens',
      'rate_limit_exceeded',
    ),
};

/** Mistral: no `error` wrapper; validation failures are pydantic 422s. */
const mistralError = (message: unknown, type: string, code: string | null) => ({
  object: 'error',
  message,
  type,
  param: null,
  code,
});

export const MISTRAL_ERRORS: ErrorTable = {
  'missing-key': () => ({ message: 'Unauthorized', request_id: 'mock0000000000000000000000000000' }),
  401: () => ({ message: 'Unauthorized', request_id: 'mock0000000000000000000000000000' }),
  'unsupported-param': (c) =>
    mistralError(
      {
        detail: [
          {
            type: 'extra_forbidden',
            loc: ['body', c.param],
            msg: 'Extra inputs are not permitted',
            input: null,
            url: 'https://errors.pydantic.dev/2.10/v/extra_forbidden',
          },
        ],
      },
      'invalid_request_error',
      null,
    ),
  400: (c) => mistralError(`Invalid model: ${c.model}`, 'invalid_model', '1500'),
  404: (c) => mistralError(`Invalid model: ${c.model}`, 'invalid_model', '1500'),
  429: () => ({ ...mistralError('Rate limit exceeded', 'rate_limited', '1300'), raw_status_code: 429 }),
};

export const DEEPSEEK_ERRORS: ErrorTable = {
  'missing-key': () =>
    openAIError(
      'Authentication Fails (auth header format should be Bearer sk-...)',
      'authentication_error',
      'invalid_request_error',
    ),
  401: (c) =>
    openAIError(
      `Authentication Fails, Your api key: ****${c.key.slice(-4)} is invalid`,
      'authentication_error',
      'invalid_request_error',
    ),
  402: () => openAIError('Insufficient Balance', 'unknown_error', 'invalid_request_error'),
};

/** Azure's envelope: `code` and `message` only, `code` often the status as a string. */
const azureError = (code: string, message: string) => ({ error: { code, message } });

export const AZURE_ERRORS: ErrorTable = {
  'missing-key': () =>
    azureError(
      '401',
      'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
    ),
  401: () =>
    azureError(
      '401',
      'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
    ),
  404: () =>
    azureError(
      'DeploymentNotFound',
      'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.',
    ),
  'no-route': () => azureError('404', 'Resource not found'),
  429: (c) =>
    azureError(
      '429',
      `Requests to the ChatCompletions_Create Operation under Azure OpenAI API version ${c.apiVersion} have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after ${c.retryAfterSeconds} seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.`,
    ),
  // Azure's content filter rejection keeps OpenAI's envelope plus `status` and `innererror`.
  400: () => ({
    error: {
      message:
        "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
      type: null,
      param: 'prompt',
      code: 'content_filter',
      status: 400,
      innererror: {
        code: 'ResponsibleAIPolicyViolation',
        content_filter_result: {
          hate: { filtered: false, severity: 'safe' },
          self_harm: { filtered: false, severity: 'safe' },
          sexual: { filtered: false, severity: 'safe' },
          violence: { filtered: true, severity: 'medium' },
        },
      },
    },
  }),
};

/** The provider's body for a situation, falling back to OpenAI's table and then to a generic OpenAI envelope. */
export function errorBody(table: ErrorTable, situation: ErrorSituation, ctx: ErrorContext): unknown {
  const make = table[situation] ?? OPENAI_ERRORS[situation];
  if (make) return make(ctx);
  const status = typeof situation === 'number' ? situation : 500;
  return openAIError(STATUS_CODES[status] ?? 'Error', status >= 500 ? 'server_error' : 'invalid_request_error', null);
}
