import type { FastifyInstance } from 'fastify';
import { PRESETS, TIERS } from '../../core/tiers.ts';
import type { Pipeline } from '../../pipeline/pipeline.ts';
import { openAIChatCodec } from '../../protocols/openai-chat/codec.ts';
import { sendError } from '../answer.ts';
import { authenticateFirst, callerOf } from '../authenticate-first.ts';
import type { BodyBudget } from '../body-budget.ts';

/**
 * GET /v1/models in OpenAI's list format: `auto`, the three tiers (and their preset variants), then the
 * catalog models the caller may name, as `provider/model` ids.
 * @see https://platform.openai.com/docs/api-reference/models/list
 */
export function registerModels(app: FastifyInstance, pipeline: Pipeline, budget: BodyBudget, startedAt: number): void {
  const onRequest = authenticateFirst(pipeline, budget, (_req, reply, error) =>
    sendError(reply, openAIChatCodec, error, {}, ''),
  );
  app.get('/v1/models', { onRequest }, async (req, reply) => {
    const listed = pipeline.models(callerOf(req), req.ip);
    if (!listed.ok) return sendError(reply, openAIChatCodec, listed.error, listed.headers, '');
    const { models, headers } = listed;
    const created = Math.floor(startedAt / 1000);
    const data: Array<{ id: string; object: 'model'; created: number; owned_by: string }> = [];
    for (const name of ['auto', ...TIERS]) {
      data.push({ id: name, object: 'model', created, owned_by: 'modro' });
      for (const preset of PRESETS) data.push({ id: `${name}:${preset}`, object: 'model', created, owned_by: 'modro' });
    }
    for (const model of models) data.push({ id: model.id, object: 'model', created, owned_by: model.provider });
    return reply.headers(headers).send({ object: 'list', data });
  });
}
