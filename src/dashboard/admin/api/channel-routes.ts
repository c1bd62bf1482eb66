import type { FastifyInstance } from 'fastify';
import {
  addCredential,
  createChannel,
  deleteChannel,
  getChannel,
  listChannels,
  setCredentialState,
  updateChannel,
} from '../../../channels/operations.ts';
import type { DashboardDeps } from '../../deps.ts';
import { adminForApi, jsonObject } from './request.ts';

/**
 * `/admin/api/channels`: upstream provider connections managed at runtime (docs/channels.md). Credentials go
 * in on creation or through `/credentials`, and never come out again: answers carry their id, label, last four
 * characters, state, age and rotate-by warning. Every change is applied to this gateway before the answer
 * (catalog and router swapped for new requests); other processes on the database pick it up from the
 * revision poll. Providers of the configuration file are listed under `configured`, read-only.
 */
export function registerAdminApiChannels(app: FastifyInstance, deps: DashboardDeps): void {
  const channels = deps.channels;
  const id = (req: { params: unknown }) => (req.params as { id: string }).id;

  app.get('/admin/api/channels', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, false))) return;
    return {
      data: (await listChannels(channels.ops)).map((c) => channels.withInFlight(c)),
      configured: channels.configured(),
    };
  });

  app.post('/admin/api/channels', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    const created = await createChannel(await channels.writeOps(), jsonObject(req));
    await channels.reload();
    return reply.code(201).send(created);
  });

  app.get('/admin/api/channels/:id', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, false))) return;
    return channels.withInFlight(await getChannel(channels.ops, id(req)));
  });

  app.patch('/admin/api/channels/:id', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    const updated = await updateChannel(await channels.writeOps(), id(req), jsonObject(req));
    await channels.reload();
    return updated;
  });

  app.delete('/admin/api/channels/:id', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    await deleteChannel(await channels.writeOps(), id(req));
    await channels.reload();
    return reply.code(204).send();
  });

  // Model discovery now (docs/routing.md, "Discovery"): every provider's listing read and applied before the answer.
  app.post('/admin/api/catalog/refresh', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    const results = await deps.discovery.refresh({ announce: true });
    return { ok: results.every((r) => r.ok), results };
  });

  app.post('/admin/api/channels/:id/test', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    const results = await channels.test(id(req));
    return { ok: results.every((r) => r.ok), results };
  });

  app.post('/admin/api/channels/:id/credentials', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    const created = await addCredential(await channels.writeOps(), id(req), jsonObject(req));
    await channels.reload();
    return reply.code(201).send(created);
  });

  for (const action of ['drain', 'activate', 'revoke'] as const) {
    app.post(`/admin/api/channels/:id/credentials/:credential/${action}`, async (req, reply) => {
      if (!(await adminForApi(deps, req, reply, true))) return;
      const credential = (req.params as { credential: string }).credential;
      if (action === 'revoke') {
        const body = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
        channels.assertIdle(id(req), credential, body['force'] === true);
      }
      const view = await setCredentialState(await channels.writeOps(), id(req), credential, action);
      await channels.reload();
      return view;
    });
  }
}
