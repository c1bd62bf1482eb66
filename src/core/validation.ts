import type { z } from 'zod';
import { GatewayError } from './errors.ts';

/** Client text quoted in an error message, cut at `max` characters: a message never echoes a huge input. */
export function clipped(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * Path `['messages', 0, 'content']` as OpenAI's `param` spells it: `messages[0].content`. Keys can be the
 * client's own (`logit_bias.<token>`), so each is clipped.
 */
export function formatParamPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? clipped(String(segment)) : `.${clipped(String(segment))}`;
  }
  return out;
}

/** Turns the first zod issue into an invalid_request error that names the field and the problem. */
export function validationError(error: z.ZodError): GatewayError {
  const issue = error.issues[0];
  if (!issue) return new GatewayError('invalid_request', 'Invalid request body');
  const param = formatParamPath(issue.path);
  const where = param === '' ? 'Request body' : `'${param}'`;
  return new GatewayError('invalid_request', `${where}: ${issue.message}`, { param: param || null });
}

/** Parses with a schema or throws the invalid_request error. */
export function parseWith<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error);
  return result.data;
}
