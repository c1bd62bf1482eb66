import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../core/errors.ts';

/**
 * The JSON body parser of every route: JSON.parse (faster than Fastify's prototype-poisoning-safe parser, and
 * safe here: request bodies are only read, or copied with object spread, never merged into prototypes), then a
 * nesting bound. V8's JSON.parse is iterative and takes any depth, but everything after it that recurses
 * (JSON.stringify for a pass-through, schema conversions, prompt walks) would overflow the stack on a
 * 5,000-level body and answer 500; such bodies are refused here with a 400 that names the limit.
 */
export function registerJsonBodyParser(app: FastifyInstance, options: { maxDepth: number; bodyLimit?: number }): void {
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}) },
    (_req, body, done) => {
      const bytes = body as Buffer;
      if (bytes.length === 0) {
        done(new GatewayError('invalid_request', 'Request body is empty; send a JSON object'), undefined);
        return;
      }
      let value: unknown;
      try {
        value = JSON.parse(bytes.toString('utf8'));
      } catch {
        done(new GatewayError('invalid_request', 'Request body is not valid JSON'), undefined);
        return;
      }
      if (nestingExceeds(value, options.maxDepth)) {
        done(
          new GatewayError(
            'invalid_request',
            `Request body is nested more than ${options.maxDepth} levels deep (limits.maxJsonDepth)`,
          ),
          undefined,
        );
        return;
      }
      done(null, value);
    },
  );
}

/** Whether objects and arrays nest deeper than `max` (the top-level value is level 1); iterative, stops early. */
export function nestingExceeds(root: unknown, max: number): boolean {
  if (root === null || typeof root !== 'object') return false;
  const values: object[] = [root];
  const depths: number[] = [1];
  while (values.length > 0) {
    const value = values.pop()!;
    const depth = depths.pop()!;
    if (depth > max) return true;
    if (Array.isArray(value)) {
      for (const item of value) {
        if (item !== null && typeof item === 'object') {
          values.push(item);
          depths.push(depth + 1);
        }
      }
    } else {
      for (const key in value) {
        const item = (value as Record<string, unknown>)[key];
        if (item !== null && typeof item === 'object') {
          values.push(item);
          depths.push(depth + 1);
        }
      }
    }
  }
  return false;
}
