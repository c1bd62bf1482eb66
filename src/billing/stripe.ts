import { type Kysely, sql } from 'kysely';
import Stripe from 'stripe';
import { GatewayError } from '../core/errors.ts';
import type { SqlDialect } from '../store/migrations/column-types.ts';
import type { Database } from '../store/schema.ts';
import { toSafeInt } from '../store/usage.ts';
import { formatUsd } from './cost.ts';
import type { Ledger } from './ledger.ts';

/**
 * Deposits through Stripe Checkout (docs/billing.md, "Deposits with Stripe"), with the official `stripe`
 * package. `checkout` creates a Checkout session for a tenant and an amount, named in its metadata;
 * `webhook` verifies a `POST /webhooks/stripe` body with the SDK (`constructEvent` on the raw bytes) and turns
 * a paid `checkout.session.completed` into a deposit and its fee, and `charge.refunded` into a refund.
 *
 * Idempotent: a deposit names its payment (`<session id>/<payment intent id>`) in `payment_id`; an event whose
 * session already has a deposit changes nothing, whatever its event id (a replay, a duplicate delivery, a
 * second event type for the same payment). A refund event carries the charge's cumulative amount refunded; the
 * refund entries bring the payment's refunded share up to it, so a replayed refund event changes nothing.
 * Every verified event is also kept by id (`stripe_event`, unique): a replayed event id answers `duplicate`
 * before anything else is looked at. Events are handled one at a time in a process. The secret key and the webhook secret are never logged,
 * printed or returned.
 */

export interface StripeSettings {
  secretKey: string;
  webhookSecret: string;
  successUrl: string;
  cancelUrl: string;
  apiBase?: string | undefined;
  minUsd: number;
  maxUsd: number;
  toleranceSeconds: number;
}

/** One cent in nano-dollars. */
const NANO_PER_CENT = 10_000_000;
export const STRIPE_ADMIN = 'stripe';
/** The PostgreSQL advisory lock key of Stripe webhooks ('modrostr' in ASCII). */
const WEBHOOK_LOCK = '7885631915207914610';

export interface WebhookOutcome {
  received: true;
  /** What the event did: `deposit`, `refund`, `duplicate` (nothing, already applied) or `ignored`. */
  outcome: 'deposit' | 'refund' | 'duplicate' | 'ignored';
  tenantId?: string;
  amountNano?: number;
}

export class StripeDeposits {
  readonly #stripe: Stripe;
  readonly #s: StripeSettings;
  readonly #ledger: Pick<Ledger, 'manual' | 'openAccount'>;
  readonly #db: Kysely<Database>;
  readonly #feeBps: number;
  readonly #dialect: SqlDialect;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(
    settings: StripeSettings,
    deps: {
      ledger: Pick<Ledger, 'manual' | 'openAccount'>;
      db: Kysely<Database>;
      dialect: SqlDialect;
      feeBps: number;
    },
  ) {
    this.#s = settings;
    this.#ledger = deps.ledger;
    this.#db = deps.db;
    this.#feeBps = deps.feeBps;
    this.#dialect = deps.dialect;
    const base = settings.apiBase ? new URL(settings.apiBase) : undefined;
    this.#stripe = new Stripe(settings.secretKey, {
      maxNetworkRetries: 1,
      timeout: 20_000,
      appInfo: { name: 'modro' },
      ...(base
        ? {
            host: base.hostname,
            port: base.port || (base.protocol === 'http:' ? 80 : 443),
            protocol: base.protocol === 'http:' ? 'http' : 'https',
          }
        : {}),
    });
  }

  /** Parses a deposit amount: dollars as text or a number, whole cents, between minUsd and maxUsd. */
  amountOf(input: unknown): number {
    const text = typeof input === 'number' ? String(input) : input;
    const m = typeof text === 'string' ? /^(\d{1,7})(?:\.(\d{1,2}))?$/.exec(text.trim()) : null;
    const cents = m ? Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0')) : Number.NaN;
    if (!Number.isSafeInteger(cents) || cents < this.#s.minUsd * 100 || cents > this.#s.maxUsd * 100) {
      throw new GatewayError(
        'invalid_request',
        `amountUsd: dollars in whole cents (e.g. "25" or "25.50") from $${this.#s.minUsd} to $${this.#s.maxUsd}`,
        { param: 'amountUsd' },
      );
    }
    return cents * NANO_PER_CENT;
  }

  /**
   * Creates a Checkout session for a deposit of `amountNano` (whole cents) to a tenant's account, opening the
   * account if it has none. The same idempotency key gives the same session (Stripe keeps keys for 24 hours).
   */
  async checkout(
    tenantId: string,
    amountNano: number,
    idempotencyKey: string,
    /** Where Stripe sends the payer back (the console's own pages); default billing.stripe's URLs. */
    returnTo?: { successUrl: string; cancelUrl: string },
  ): Promise<{ url: string; sessionId: string }> {
    await this.#ledger.openAccount(tenantId);
    const metadata = { modro_tenant: tenantId, modro_amount_nano: String(amountNano) };
    let session: Stripe.Checkout.Session;
    try {
      session = await this.#stripe.checkout.sessions.create(
        {
          mode: 'payment',
          client_reference_id: tenantId,
          line_items: [
            {
              quantity: 1,
              price_data: {
                currency: 'usd',
                unit_amount: amountNano / NANO_PER_CENT,
                product_data: { name: `Modro balance deposit ($${formatUsd(amountNano)})` },
              },
            },
          ],
          metadata,
          payment_intent_data: { metadata },
          success_url: returnTo?.successUrl ?? this.#s.successUrl,
          cancel_url: returnTo?.cancelUrl ?? this.#s.cancelUrl,
        },
        { idempotencyKey },
      );
    } catch (err) {
      throw stripeFailure(err);
    }
    if (!session.url)
      throw new GatewayError('provider_unavailable', 'Stripe returned a Checkout session without a URL');
    return { url: session.url, sessionId: session.id };
  }

  /** Verifies and applies one webhook delivery; one at a time, so two deliveries of one event cannot race. */
  webhook(raw: Buffer, signature: string | undefined): Promise<WebhookOutcome> {
    const run = this.#chain.then(() => this.#webhook(raw, signature));
    this.#chain = run.catch(() => {});
    return run;
  }

  /**
   * PostgreSQL: several gateways may share the database and each receive a delivery of the same event, so the
   * check-then-record of a webhook runs under a session advisory lock held on one pooled connection (webhooks
   * are rare: one lock for all of them). SQLite has one gateway per database: the in-process chain suffices.
   */
  async #acrossProcesses<T>(work: () => Promise<T>): Promise<T> {
    if (this.#dialect !== 'postgres') return work();
    return this.#db.connection().execute(async (conn) => {
      await sql`select pg_advisory_lock(${WEBHOOK_LOCK}::bigint)`.execute(conn);
      try {
        return await work();
      } finally {
        await sql`select pg_advisory_unlock(${WEBHOOK_LOCK}::bigint)`.execute(conn);
      }
    });
  }

  async #webhook(raw: Buffer, signature: string | undefined): Promise<WebhookOutcome> {
    if (!signature) throw new GatewayError('invalid_request', 'Missing Stripe-Signature header');
    let event: Stripe.Event;
    try {
      event = this.#stripe.webhooks.constructEvent(raw, signature, this.#s.webhookSecret, this.#s.toleranceSeconds);
    } catch (err) {
      const old = err instanceof Error && /tolerance/i.test(err.message);
      throw new GatewayError(
        'invalid_request',
        old
          ? `Stripe webhook refused: its signature is older than ${this.#s.toleranceSeconds} seconds (a replay?)`
          : 'Stripe webhook refused: the Stripe-Signature header does not verify with the webhook secret',
      );
    }
    return this.#acrossProcesses(async () => {
      // Idempotent on the event id first (a replay changes nothing, whatever it is), then on the payment.
      const seen = await this.#db
        .selectFrom('stripe_event')
        .select('outcome')
        .where('id', '=', event.id)
        .executeTakeFirst();
      if (seen) return { received: true, outcome: 'duplicate' } satisfies WebhookOutcome;
      const outcome = await this.#apply(event);
      await this.#db
        .insertInto('stripe_event')
        .values({
          id: event.id,
          type: event.type,
          created_at: event.created * 1000,
          received_at: Date.now(),
          outcome: outcome.outcome,
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
      return outcome;
    });
  }

  /** What one verified event does; a refusal throws (and the event is not recorded, so Stripe's retry is heard). */
  #apply(event: Stripe.Event): Promise<WebhookOutcome> {
    switch (event.type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded':
        return this.#completed(event.id, event.data.object);
      case 'charge.refunded':
        return this.#refunded(event.id, event.data.object);
      default:
        return Promise.resolve({ received: true, outcome: 'ignored' });
    }
  }

  async #completed(eventId: string, session: Stripe.Checkout.Session): Promise<WebhookOutcome> {
    const tenantId = session.metadata?.['modro_tenant'];
    const amountText = session.metadata?.['modro_amount_nano'];
    if (session.mode !== 'payment' || !tenantId || !amountText) {
      throw new GatewayError('not_found', `Checkout session ${clip(session.id)} is not a deposit made by this gateway`);
    }
    if (session.payment_status !== 'paid') return { received: true, outcome: 'ignored' };
    const amountNano = /^\d{1,16}$/.test(amountText) ? Number(amountText) : Number.NaN;
    const paidNano = (session.amount_total ?? -1) * NANO_PER_CENT;
    if (
      session.currency !== 'usd' ||
      !Number.isSafeInteger(amountNano) ||
      amountNano !== paidNano ||
      amountNano < this.#s.minUsd * 1e9 ||
      amountNano > this.#s.maxUsd * 1e9
    ) {
      throw new GatewayError(
        'invalid_request',
        `Checkout session ${clip(session.id)}: the amount paid does not match a deposit this gateway accepts`,
      );
    }
    const paymentId = `${session.id}/${idOf(session.payment_intent) ?? '-'}`;
    const already = await this.#db
      .selectFrom('ledger_entry')
      .select('id')
      .where('kind', '=', 'deposit')
      .where('payment_id', '=', paymentId)
      .executeTakeFirst();
    if (already) return { received: true, outcome: 'duplicate', tenantId };
    await this.#ledger.manual({
      tenantId,
      kind: 'deposit',
      amountNano,
      admin: STRIPE_ADMIN,
      reason: `Stripe Checkout (event ${clip(eventId)})`,
      paymentId,
      feeBps: this.#feeBps,
    });
    return { received: true, outcome: 'deposit', tenantId, amountNano };
  }

  async #refunded(eventId: string, charge: Stripe.Charge): Promise<WebhookOutcome> {
    const intent = idOf(charge.payment_intent);
    if (!intent || !/^[A-Za-z0-9_]{1,200}$/.test(intent)) {
      throw new GatewayError('not_found', 'A refunded charge without a payment intent is not a deposit');
    }
    const rows = await this.#db
      .selectFrom('ledger_entry')
      .select(['tenant_id', 'kind', 'amount_nano', 'payment_id'])
      // `_` in the id matches any one character: the exact suffix is checked below.
      .where('payment_id', 'like', `%/${intent}`)
      .execute();
    const mine = rows.filter((r) => r.payment_id?.endsWith(`/${intent}`));
    const deposit = mine.find((r) => r.kind === 'deposit');
    if (!deposit?.payment_id) {
      throw new GatewayError('not_found', `No deposit of this gateway was paid with ${clip(intent)}`);
    }
    const paid = toSafeInt(deposit.amount_nano);
    const fee = -mine.filter((r) => r.kind === 'deposit_fee').reduce((sum, r) => sum + toSafeInt(r.amount_nano), 0);
    const refundedBefore = -mine
      .filter((r) => r.kind === 'refund')
      .reduce((sum, r) => sum + toSafeInt(r.amount_nano), 0);
    const refundedNano = (charge.amount_refunded ?? 0) * NANO_PER_CENT;
    if (!Number.isSafeInteger(refundedNano) || refundedNano < 0 || refundedNano > paid || charge.currency !== 'usd') {
      throw new GatewayError('invalid_request', `Refund of ${clip(intent)}: more than the deposit paid`);
    }
    // The refund takes back the credited share of what was refunded (the fee was kept from the credit).
    const due = Number((BigInt(refundedNano) * BigInt(paid - fee) + BigInt(paid) / 2n) / BigInt(paid));
    const amountNano = due - refundedBefore;
    if (amountNano <= 0) return { received: true, outcome: 'duplicate', tenantId: deposit.tenant_id };
    await this.#ledger.manual({
      tenantId: deposit.tenant_id,
      kind: 'refund',
      amountNano,
      admin: STRIPE_ADMIN,
      reason: `Stripe refund of ${clip(charge.id)} (event ${clip(eventId)})`,
      paymentId: deposit.payment_id,
    });
    return { received: true, outcome: 'refund', tenantId: deposit.tenant_id, amountNano };
  }
}

function idOf(ref: string | { id: string } | null | undefined): string | undefined {
  if (typeof ref === 'string') return ref;
  return ref?.id;
}

function clip(id: string): string {
  return id.length > 100 ? `${id.slice(0, 100)}…` : id;
}

/** A Stripe failure for the admin: its type and code, never its raw message or request (they may echo keys). */
function stripeFailure(err: unknown): GatewayError {
  if (err instanceof Stripe.errors.StripeError) {
    if (err.type === 'StripeIdempotencyError') {
      return new GatewayError('idempotency_conflict', 'This idempotency key was used for a different deposit');
    }
    if (err.type === 'StripeAuthenticationError' || err.type === 'StripePermissionError') {
      return new GatewayError(
        'provider_unavailable',
        'Stripe refused the configured secret key (billing.stripe.secretKey)',
      );
    }
    const code = err.code ? ` (${err.code})` : '';
    return new GatewayError('provider_unavailable', `Stripe could not create the Checkout session: ${err.type}${code}`);
  }
  return new GatewayError('provider_unavailable', 'Stripe could not be reached');
}
