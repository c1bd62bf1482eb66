/**
 * A mock of the part of Stripe's API that Modro calls: `POST /v1/checkout/sessions`, on 127.0.0.1, driven by
 * the `stripe` SDK itself (its host, port and protocol pointed here). It checks what the real API checks of
 * the wire format: a Bearer secret key, a form-encoded body (`line_items[0][price_data][unit_amount]=…`), a
 * `Stripe-Version` header, and keeps `Idempotency-Key`s: the same key with the same body gives the same
 * session, with another body a 400 `idempotency_error`, as Stripe does.
 *
 * @see https://docs.stripe.com/api/checkout/sessions/create
 * @see https://docs.stripe.com/api/idempotent_requests
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export const MOCK_STRIPE_KEY = 'sk_test_mock_0123456789abcdefghijklmnop';

export interface StripeCall {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The body as Stripe reads it: form fields by their bracketed names. */
  form: Record<string, string>;
}

export interface MockSession {
  id: string;
  object: 'checkout.session';
  mode: 'payment';
  url: string;
  amount_total: number;
  currency: string;
  client_reference_id: string | null;
  metadata: Record<string, string>;
  payment_intent: string | null;
  payment_status: 'unpaid' | 'paid';
  status: 'open' | 'complete';
  success_url: string;
  cancel_url: string;
}

export interface MockStripe {
  url: string;
  calls: StripeCall[];
  sessions: Map<string, MockSession>;
  /** The secret key accepted (default MOCK_STRIPE_KEY); any other gets Stripe's 401. */
  acceptedKey: string;
  close(): Promise<void>;
}

function error(status: number, type: string, message: string, code?: string) {
  return { status, body: { error: { type, message, ...(code ? { code } : {}) } } };
}

export async function startMockStripe(): Promise<MockStripe> {
  const calls: StripeCall[] = [];
  const sessions = new Map<string, MockSession>();
  const idempotent = new Map<string, { body: string; answer: { status: number; body: unknown } }>();
  let seq = 0;

  function answer(call: StripeCall, raw: string): { status: number; body: unknown } {
    if (call.headers.authorization !== `Bearer ${mock.acceptedKey}`) {
      return error(401, 'invalid_request_error', 'Invalid API Key provided');
    }
    if (!String(call.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      return error(400, 'invalid_request_error', 'Bodies must be form-encoded');
    }
    if (!/^\d{4}-\d{2}-\d{2}/.test(String(call.headers['stripe-version'] ?? ''))) {
      return error(400, 'invalid_request_error', 'Missing or malformed Stripe-Version');
    }
    if (call.method !== 'POST' || call.path !== '/v1/checkout/sessions') {
      return error(404, 'invalid_request_error', `Unrecognized request URL (${call.method}: ${call.path})`);
    }
    const key = call.headers['idempotency-key'];
    if (typeof key === 'string') {
      const seen = idempotent.get(key);
      if (seen) {
        return seen.body === raw
          ? seen.answer
          : error(400, 'idempotency_error', 'Keys for idempotent requests can only be used with the same parameters');
      }
    }
    const f = call.form;
    const unit = Number(f['line_items[0][price_data][unit_amount]']);
    const quantity = Number(f['line_items[0][quantity]']);
    if (f['mode'] !== 'payment' || !Number.isSafeInteger(unit) || unit < 50 || quantity !== 1) {
      return error(400, 'invalid_request_error', 'Invalid line items', 'parameter_invalid_integer');
    }
    if (!f['success_url'] || !f['line_items[0][price_data][currency]']) {
      return error(400, 'invalid_request_error', 'Missing required param: success_url.', 'parameter_missing');
    }
    const metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(f)) {
      const m = /^metadata\[(.+)\]$/.exec(name);
      if (m?.[1]) metadata[m[1]] = value;
    }
    const id = `cs_test_mock${++seq}`;
    const session: MockSession = {
      id,
      object: 'checkout.session',
      mode: 'payment',
      url: `https://checkout.stripe.com/c/pay/${id}`,
      amount_total: unit * quantity,
      currency: f['line_items[0][price_data][currency]'] ?? '',
      client_reference_id: f['client_reference_id'] ?? null,
      metadata,
      payment_intent: null,
      payment_status: 'unpaid',
      status: 'open',
      success_url: f['success_url'],
      cancel_url: f['cancel_url'] ?? '',
    };
    sessions.set(id, session);
    const result = { status: 200, body: session };
    if (typeof key === 'string') idempotent.set(key, { body: raw, answer: result });
    return result;
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const call: StripeCall = {
        method: req.method ?? '',
        path: (req.url ?? '').split('?')[0] ?? '',
        headers: req.headers,
        form: Object.fromEntries(new URLSearchParams(raw)),
      };
      calls.push(call);
      const { status, body } = answer(call, raw);
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_mock${calls.length}` });
      res.end(JSON.stringify(body));
    });
  });
  const mock: MockStripe = {
    url: '',
    calls,
    sessions,
    acceptedKey: MOCK_STRIPE_KEY,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  mock.url = `http://127.0.0.1:${port}`;
  return mock;
}
