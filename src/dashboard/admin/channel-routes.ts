import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  addCredential,
  createChannel,
  deleteChannel,
  listChannels,
  setCredentialState,
  updateChannel,
} from '../../channels/operations.ts';
import { GatewayError } from '../../core/errors.ts';
import { linesToList } from '../../tenancy/admin-operations.ts';
import type { DashboardDeps } from '../deps.ts';
import { formField } from '../http.ts';
import type { Notice } from '../layout.ts';
import { sendHtml } from '../respond.ts';
import { channelsPage, discoveryNotice, testResultNotice } from './channel-pages.ts';
import { adminForForm, adminForPage } from './guards.ts';
import { refusal } from './notices.ts';

/** `/admin/channels`: the page and its forms (the same operations as the JSON API). */
export function registerAdminChannels(app: FastifyInstance, deps: DashboardDeps): void {
  const channels = deps.channels;
  const render = async (reply: FastifyReply, csrf: string, status: number, notice: Notice | undefined) =>
    sendHtml(
      reply,
      status,
      channelsPage({
        csrf,
        notice,
        channels: (await listChannels(channels.ops)).map((c) => channels.withInFlight(c)),
        configured: channels.configured(),
        masterKey: channels.ops.keyring !== undefined,
      }),
    );
  const form = (
    path: string,
    run: (params: Record<string, string>, req: Parameters<typeof formField>[0]) => Promise<Notice>,
  ) =>
    app.post(path, async (req, reply) => {
      const ctx = await adminForForm(deps, req, reply);
      if (!ctx) return;
      try {
        const notice = await run(req.params as Record<string, string>, req);
        await channels.reload();
        return render(reply, ctx.session.csrf, 200, notice);
      } catch (err) {
        const { status, notice } = refusal(err);
        return render(reply, ctx.session.csrf, status, notice);
      }
    });

  app.get('/admin/channels', async (req, reply) => {
    const ctx = await adminForPage(deps, req, reply);
    if (!ctx) return;
    return render(reply, ctx.session.csrf, 200, undefined);
  });

  form('/admin/channels', async (_params, req) => {
    const key = formField(req, 'key');
    const baseUrl = formField(req, 'baseUrl');
    const groups = linesToList(formField(req, 'groups'));
    const created = await createChannel(await channels.writeOps(), {
      id: formField(req, 'id'),
      kind: formField(req, 'kind'),
      ...(baseUrl ? { baseUrl } : {}),
      ...(groups ? { groups } : {}),
      credentials: key ? [{ key }] : [],
    });
    return { tone: 'good', text: `Channel ${created.id} created; new requests can use it now.` };
  });
  for (const toggle of ['enable', 'disable'] as const) {
    form(`/admin/channels/:id/${toggle}`, async ({ id }) => {
      await updateChannel(await channels.writeOps(), id!, { enabled: toggle === 'enable' });
      return { tone: 'good', text: `Channel ${id} ${toggle}d.` };
    });
  }
  // The edit form: every editable field at once (docs/channels.md, "API"); an empty field means the default.
  form('/admin/channels/:id/edit', async ({ id }, req) => {
    const baseUrl = (formField(req, 'baseUrl') ?? '').trim();
    const models = (formField(req, 'models') ?? '').trim();
    let parsedModels: unknown = null;
    if (models) {
      try {
        parsedModels = JSON.parse(models);
      } catch {
        throw new GatewayError('invalid_request', 'models: not valid JSON (a list of model entries)', {
          param: 'models',
        });
      }
    }
    const number = (name: string) => {
      const text = (formField(req, name) ?? '').trim();
      return text === '' ? undefined : Number(text);
    };
    await updateChannel(await channels.writeOps(), id!, {
      baseUrl: baseUrl || null,
      models: parsedModels,
      groups: linesToList(formField(req, 'groups')),
      ...(number('priority') !== undefined ? { priority: number('priority') } : {}),
      ...(number('weight') !== undefined ? { weight: number('weight') } : {}),
    });
    return { tone: 'good', text: `Channel ${id} saved; new requests use it as it is now.` };
  });
  form('/admin/channels/:id/delete', async ({ id }) => {
    await deleteChannel(await channels.writeOps(), id!);
    return { tone: 'good', text: `Channel ${id} deleted.` };
  });
  form('/admin/channels/:id/test', async ({ id }) => testResultNotice(id!, await channels.test(id!)));
  // Model discovery now (docs/routing.md, "Discovery"), as POST /admin/api/catalog/refresh.
  form('/admin/catalog/refresh', async () => discoveryNotice(await deps.discovery.refresh({ announce: true })));
  form('/admin/channels/:id/credentials', async ({ id }, req) => {
    const label = formField(req, 'label');
    const rotateBy = formField(req, 'rotateBy');
    const view = await addCredential(await channels.writeOps(), id!, {
      key: formField(req, 'key'),
      ...(label ? { label } : {}),
      ...(rotateBy ? { rotateBy } : {}),
    });
    return { tone: 'good', text: `Credential …${view.last4} added to ${id}.` };
  });
  for (const act of ['drain', 'activate', 'revoke'] as const) {
    form(`/admin/channels/:id/credentials/:credential/${act}`, async ({ id, credential }, req) => {
      if (act === 'revoke') channels.assertIdle(id!, credential!, formField(req, 'force') === 'on');
      const view = await setCredentialState(await channels.writeOps(), id!, credential!, act);
      return { tone: 'good', text: `Credential …${view.last4} of ${id} is ${view.state}.` };
    });
  }
}
