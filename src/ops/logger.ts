import { pino } from 'pino';

/**
 * JSON logs. Anything that may carry a credential is redacted by path, and messages that quote upstream
 * text go through redactSecrets first (core/redact.ts): a key must never reach a log line.
 */
export type Logger = pino.Logger;

export const REDACT_PATHS = [
  'key',
  'secret',
  'apiKey',
  'authorization',
  '*.key',
  '*.secret',
  '*.apiKey',
  '*.authorization',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["api-key"]',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'modro' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
