import type { FastifyReply } from 'fastify';
import type { SafeHtml } from './html.ts';
import { messagePage } from './layout.ts';

export function sendHtml(reply: FastifyReply, status: number, body: SafeHtml) {
  return reply.code(status).type('text/html; charset=utf-8').send(body.value);
}

/**
 * The one answer to every refused dashboard access (tampered, expired or revoked link, no session, a
 * session of the wrong kind): plain, the same for every reason, so it tells a prober nothing.
 */
export function sendForbidden(reply: FastifyReply) {
  return sendHtml(
    reply,
    403,
    messagePage(
      'Access denied',
      'This link is invalid, expired or revoked. Open the dashboard link from the X-Client-Dashboard-Url header of your latest API response.',
      'error',
    ),
  );
}

export function redirect(reply: FastifyReply, location: string) {
  return reply.code(303).header('location', location).send();
}
