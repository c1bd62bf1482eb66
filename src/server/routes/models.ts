import type { FastifyInstance } from 'fastify';
import { isChatModel, isEmbeddingModel, type ModelMode } from '../../billing/catalog-types.ts';
import { PRESETS, TIERS } from '../../core/tiers.ts';
import type { Pipeline } from '../../pipeline/pipeline.ts';
import { openAIChatCodec } from '../../protocols/openai-chat/codec.ts';
import { sendError } from '../answer.ts';
import { authenticateFirst, callerOf } from '../authenticate-first.ts';
import type { BodyBudget } from '../body-budget.ts';

/**
 * GET /v1/models in OpenAI's list format: `auto`, the three tiers (and their preset variants), then the
 * catalog's chat models the caller may name, as `provider/model` ids, then its embedding models, then its media
 * models (run as executions). OpenAI's model object has no type field; each entry carries Modro's `mode` (`chat`,
 * `embedding`, `image`, `speech`, `transcription`, `video`), an extra field the OpenAI SDKs keep and ignore
 * (docs/embeddings.md, docs/executions.md).
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
    const data: Array<{ id: string; object: 'model'; created: number; owned_by: string; mode: ModelMode }> = [];
    for (const name of ['auto', ...TIERS]) {
      data.push({ id: name, object: 'model', created, owned_by: 'modro', mode: 'chat' });
      for (const preset of PRESETS) {
        data.push({ id: `${name}:${preset}`, object: 'model', created, owned_by: 'modro', mode: 'chat' });
      }
    }
    const chat = models.filter(isChatModel);
    const embedding = models.filter(isEmbeddingModel);
    const media = models.filter((model) => !isChatModel(model) && !isEmbeddingModel(model));
    for (const model of [...chat, ...embedding, ...media]) {
      data.push({ id: model.id, object: 'model', created, owned_by: model.provider, mode: model.mode ?? 'chat' });
    }
    return reply.headers(headers).send({ object: 'list', data });
  });
}
