import { solidPng } from '../../src/providers/demo/media.ts';
import { type Answer, type MediaRequest, type MediaServer, startMediaServer } from './media-server.ts';

/**
 * Replicate's predictions API, protocol-faithful (driven by the official `replicate` package in
 * media-mocks.test.ts):
 * - `POST /v1/models/{owner}/{name}/predictions` `{input}` or `POST /v1/predictions` `{version, input}`, with
 *   `Prefer: wait=N` holding the answer until the prediction is done or N seconds have passed;
 * - `GET /v1/predictions/{id}`, `POST /v1/predictions/{id}/cancel`;
 * - a prediction `{id, model, version, input, logs, output, source, data_removed, error, status, created_at, started_at,
 *   completed_at, urls, metrics}` going `starting` → `processing` → `succeeded` (or `failed`, `canceled`);
 * - outputs as file URLs on a second server (the delivery host, another origin, no auth), one URL for FLUX 1.1
 *   Pro, a list when `num_outputs` is given;
 * - errors as problem details `{title, detail, status}` (401 without `Authorization: Bearer`, 404 for an unknown
 *   model, 422 for an invalid input).
 * Knobs: `runMs` (how long a prediction runs), `failWith` (its error), `outputBytes` (what the delivery host
 * serves instead of a PNG), `deliveryTrickleMs` (a slow download), `faults` (the next API answers).
 * @see https://replicate.com/docs/reference/http
 */

export const MOCK_REPLICATE_TOKEN = 'r8_mock0123456789abcdefghijklmnopqrstu';
export const MOCK_REPLICATE_MODELS = [
  'black-forest-labs/flux-1.1-pro',
  'black-forest-labs/flux-schnell',
  'black-forest-labs/flux-dev',
];
/** Replicate's own `predict_time` the mock reports for every prediction. */
export const MOCK_PREDICT_TIME = 2.5;

interface Prediction {
  id: string;
  model: string;
  version: string;
  input: Record<string, unknown>;
  createdAt: number;
  canceled: boolean;
  polls: number;
}

export interface MockReplicate extends MediaServer {
  /** Base URL with `/v1`. */
  baseUrl: string;
  delivery: MediaServer;
  predictions: Map<string, Prediction>;
  faults: Answer[];
  /** Answers the first later request whose method and path match, once. */
  faultAt: Array<{ method: string; path: RegExp; answer: Answer }>;
  runMs: number;
  failWith: string | undefined;
  outputBytes: Uint8Array | undefined;
  deliveryTrickleMs: number | undefined;
}

function problem(status: number, title: string, detail: string, extra: Record<string, unknown> = {}): Answer {
  return { status, body: { title, detail, status, ...extra }, headers: { 'content-type': 'application/problem+json' } };
}

export async function startMockReplicate(): Promise<MockReplicate> {
  let sequence = 0;
  const state = {
    predictions: new Map<string, Prediction>(),
    faults: [] as Answer[],
    faultAt: [],
    runMs: 0,
    failWith: undefined,
    outputBytes: undefined,
    deliveryTrickleMs: undefined,
  } as unknown as MockReplicate;

  const delivery = await startMediaServer(async (req) => {
    const match = /^\/xezq\/(\w+)\/out-(\d+)\.png$/.exec(req.path);
    if (!match || !state.predictions.has(match[1]!)) return { status: 404, bytes: Buffer.from('Not Found') };
    const bytes = state.outputBytes ?? (await solidPng(32, 32, [10, 20 + Number(match[2]) * 60, 30]));
    return {
      status: 200,
      bytes,
      headers: { 'content-type': 'image/png' },
      ...(state.deliveryTrickleMs ? { trickleMs: state.deliveryTrickleMs } : {}),
    };
  });

  const view = (p: Prediction) => {
    const elapsed = Date.now() - p.createdAt;
    const done = elapsed >= state.runMs;
    const status = p.canceled
      ? 'canceled'
      : !done
        ? p.polls === 0 && elapsed < 5
          ? 'starting'
          : 'processing'
        : state.failWith
          ? 'failed'
          : 'succeeded';
    const count = p.input['num_outputs'] === undefined ? undefined : Number(p.input['num_outputs']);
    const url = (i: number) => `${delivery.url}/xezq/${p.id}/out-${i}.png`;
    const output =
      status !== 'succeeded' ? null : count === undefined ? url(0) : Array.from({ length: count }, (_, i) => url(i));
    const base = `${state.url}/v1/predictions/${p.id}`;
    return {
      id: p.id,
      model: p.model,
      version: p.version,
      input: p.input,
      logs: status === 'starting' ? '' : 'Using seed: 42\n',
      output,
      source: 'api',
      data_removed: false,
      error: status === 'failed' ? state.failWith : null,
      status,
      created_at: new Date(p.createdAt).toISOString(),
      started_at: status === 'starting' ? null : new Date(p.createdAt + 1).toISOString(),
      completed_at: ['succeeded', 'failed', 'canceled'].includes(status) ? new Date().toISOString() : null,
      urls: { cancel: `${base}/cancel`, get: base, stream: `${base}/stream`, web: `https://replicate.com/p/${p.id}` },
      ...(status === 'succeeded' ? { metrics: { predict_time: MOCK_PREDICT_TIME, image_count: count ?? 1 } } : {}),
    };
  };

  const create = async (req: MediaRequest, model: string, version: string): Promise<Answer> => {
    const input = req.json?.['input'];
    if (!input || typeof input !== 'object') {
      return problem(422, 'Input validation failed', '- input: Invalid type. Expected: object, given: null', {
        invalid_fields: [{ type: 'invalid_type', field: 'input', description: 'Invalid type. Expected: object' }],
      });
    }
    const prompt = (input as Record<string, unknown>)['prompt'];
    if (typeof prompt !== 'string' || prompt === '') {
      return problem(422, 'Input validation failed', '- input: prompt is required', {
        invalid_fields: [{ type: 'required', field: 'input', description: 'prompt is required' }],
      });
    }
    sequence += 1;
    const p: Prediction = {
      id: `mockpred${String(sequence).padStart(18, '0')}`,
      model,
      version,
      input: input as Record<string, unknown>,
      createdAt: Date.now(),
      canceled: false,
      polls: 0,
    };
    state.predictions.set(p.id, p);
    const prefer = /^wait(?:=(\d+))?$/.exec(String(req.headers['prefer'] ?? ''));
    if (prefer) {
      const waitMs = Math.min(state.runMs, Number(prefer[1] ?? 60) * 1000);
      await new Promise((r) => setTimeout(r, waitMs));
    }
    return { status: 201, body: view(p) };
  };

  const api = await startMediaServer(async (req) => {
    if (req.headers['authorization'] !== `Bearer ${MOCK_REPLICATE_TOKEN}`) {
      return problem(401, 'Unauthenticated', 'You did not pass a valid authentication token');
    }
    const fault = state.faults.shift();
    if (fault) return fault;
    const path = req.path.split('?')[0]!;
    const at = state.faultAt.findIndex((f) => f.method === req.method && f.path.test(path));
    if (at >= 0) return state.faultAt.splice(at, 1)[0]!.answer;
    const byModel = /^\/v1\/models\/([\w.-]+)\/([\w.-]+)\/predictions$/.exec(path);
    if (byModel && req.method === 'POST') {
      const model = `${byModel[1]}/${byModel[2]}`;
      if (!MOCK_REPLICATE_MODELS.includes(model)) {
        return problem(404, 'Not found', 'The requested resource could not be found.');
      }
      return create(req, model, 'hidden');
    }
    if (path === '/v1/predictions' && req.method === 'POST') {
      const version = req.json?.['version'];
      if (typeof version !== 'string' || !/^[0-9a-f]{64}$/.test(version)) {
        return problem(
          422,
          'Invalid version or not permitted',
          'The specified version does not exist (or perhaps you do not have permission to use it?)',
        );
      }
      return create(req, 'owner/versioned-model', version);
    }
    const one = /^\/v1\/predictions\/(\w+)(\/cancel)?$/.exec(path);
    const p = one && state.predictions.get(one[1]!);
    if (one && !p) return problem(404, 'Not found', 'The requested resource could not be found.');
    if (p && one![2] && req.method === 'POST') {
      p.canceled = true;
      return { status: 200, body: view(p) };
    }
    if (p && req.method === 'GET') {
      p.polls += 1;
      return { status: 200, body: view(p) };
    }
    return problem(404, 'Not found', 'The requested resource could not be found.');
  });

  const closeApi = api.close;
  return Object.assign(state, api, {
    baseUrl: `${api.url}/v1`,
    delivery,
    close: async () => {
      await closeApi();
      await delivery.close();
    },
  });
}
