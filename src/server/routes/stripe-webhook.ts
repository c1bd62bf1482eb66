import type { FastifyInstance } from 'fastify';
import type { StripeDeposits } from '../../billing/stripe.ts';
import { GatewayError } from '../../core/errors.ts';
import { toClientError } from '../../http/client-errors.ts';
import type { Logger } from '../../ops/logger.ts';

/** Largest webhook body read (Stripe's events are a few kilobytes). */
export const STRIPE_WEBHOOK_BODY_LIMIT = 1024 * 1024;

/**
 * `POST /webhooks/stripe` (docs/billing.md): in its own Fastify scope whose only parser hands the route the raw
 * bytes (a Buffer, at most 1 MB), since the signature covers exactly the bytes Stripe sent. Answers are JSON;
 * a refusal is a 4xx with a message and never a stack trace, and nothing about the secrets.
 */
export function registerStripeWebhook(
  app: FastifyInstance,
  deps: { stripe: StripeDeposits | undefined; logger: Pick<Logger, 'error'> },
): void {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      'application/json',
      { parseAs: 'buffer', bodyLimit: STRIPE_WEBHOOK_BODY_LIMIT },
      (_req, body, done) => done(null, body),
    );
    scope.setErrorHandler((err, req, reply) => {
      const error = err instanceof GatewayError ? err : toClientError(err);
      if (error.code === 'internal_error') deps.logger.error({ err, url: req.url }, 'stripe webhook error');
      return reply.code(error.status).send({ error: { code: error.code, message: error.message } });
    });
    scope.post('/webhooks/stripe', async (req) => {
      const { stripe } = deps;
      if (!stripe) throw new GatewayError('not_found', 'Stripe deposits are off (billing.stripe is not set)');
      if (!Buffer.isBuffer(req.body)) throw new GatewayError('invalid_request', 'Send the event as application/json');
      const signature = req.headers['stripe-signature'];
      return stripe.webhook(req.body, typeof signature === 'string' ? signature : undefined);
    });
  });
}
