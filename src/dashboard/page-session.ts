import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Tenant } from '../tenancy/tenant.ts';
import type { DashboardDeps } from './deps.ts';
import type { SafeHtml } from './html.ts';

/**
 * A signed-in tenant as a page shared by the client dashboard and the console needs it: where its forms post,
 * how the session is read for a page and for a form, and the frame that renders it (`I`: the page's input).
 */
export interface PageSession<C, I> {
  base: string;
  forPage(deps: DashboardDeps, req: FastifyRequest, reply: FastifyReply): Promise<C | undefined>;
  forForm(deps: DashboardDeps, req: FastifyRequest, reply: FastifyReply): Promise<C | undefined>;
  tenant(ctx: C): Tenant;
  csrf(ctx: C): string;
  page(ctx: C, input: I): SafeHtml;
}
