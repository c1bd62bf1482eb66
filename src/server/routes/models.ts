import type { FastifyInstance } from 'fastify';
import { openAIErrorBody } from '../../core/errors.ts';
import type { Router } from '../../router/router.ts';
import { PRESETS, TIERS } from '../../router/tiers.ts';
import { type Authenticator, successHeaders } from '../../tenancy/auth.ts';
import { authenticateFirst, callerOf } from '../authenticate-first.ts';
import type { BodyBudget } from '../body-budget.ts';

/**
 * GET /v1/models in OpenAI's list format: `auto`, the three tiers (and their preset variants), then the
 * catalog models the caller may name, as `provider/model` ids.
 * @see https://platform.openai.com/docs/api-reference/models/list
 */
export function registerModels(
  app: FastifyInstance,
  router: Router,
  auth: Authenticator,
  budget: BodyBudget,
  startedAt: number,
): void {
  const onRequest = authenticateFirst(auth, budget, (_req, reply, error) =>
    reply.code(error.status).send(openAIErrorBody(error)),
  );
  app.get('/v1/models', { onRequest }, async (req, reply) => {
    const caller = callerOf(req);
    const created = Math.floor(startedAt / 1000);
    const data: Array<{ id: string; object: 'model'; created: number; owned_by: string }> = [];
    for (const name of ['auto', ...TIERS]) {
      data.push({ id: name, object: 'model', created, owned_by: 'modro' });
      for (const preset of PRESETS) data.push({ id: `${name}:${preset}`, object: 'model', created, owned_by: 'modro' });
    }
    const { allowedModels, providers } = caller.policy;
    for (const model of router.catalog.models) {
      if (providers && !providers.includes(model.provider)) continue;
      if (allowedModels && !allowedModels.includes(model.id) && !allowedModels.includes(model.name)) continue;
      data.push({ id: model.id, object: 'model', created, owned_by: model.provider });
    }
    return reply.headers(successHeaders(auth, caller, false)).send({ object: 'list', data });
  });
}
