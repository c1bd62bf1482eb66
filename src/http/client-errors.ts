import type { FastifyError } from 'fastify';
import { GatewayError, isGatewayError } from '../core/errors.ts';

/**
 * Anything thrown while serving → a GatewayError with one of the 12 codes. Fastify's own errors (body too
 * large, bad content type, malformed JSON) are the client's fault and say so; anything else is an internal
 * error whose details go to the log, never to the client.
 */
export function toClientError(err: unknown): GatewayError {
  if (isGatewayError(err)) return err;
  const fastifyError = err as Partial<FastifyError> | undefined;
  switch (fastifyError?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('invalid_request', 'Request body is larger than the configured limit', { status: 413 });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError('invalid_request', 'Content-Type must be application/json', { status: 415 });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('invalid_request', 'Request body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new GatewayError('invalid_request', 'Content-Length does not match the body');
    default:
      break;
  }
  if (typeof fastifyError?.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new GatewayError('invalid_request', 'Malformed request', { status: fastifyError.statusCode });
  }
  return new GatewayError('internal_error', 'Internal error', { cause: err });
}
