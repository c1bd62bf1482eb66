import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Kysely } from 'kysely';
import { GatewayError, openAIErrorBody } from '../../core/errors.ts';
import type { FileMeta } from '../../core/execution-contracts.ts';
import { clipped } from '../../core/validation.ts';
import { type FileStore, fileNotFound, type StagedFile } from '../../files/file-store.ts';
import { toOpenAIFile } from '../../files/openai-file.ts';
import { toClientError } from '../../http/client-errors.ts';
import { fingerprint, type Idempotency, keyOf, type StoredResponse } from '../../idempotency/idempotency.ts';
import type { Logger } from '../../ops/logger.ts';
import { keyAccess } from '../../pipeline/admit.ts';
import type { Pipeline } from '../../pipeline/pipeline.ts';
import type { Database } from '../../store/schema.ts';
import { authenticateFirst, callerOf } from '../authenticate-first.ts';
import type { BodyBudget } from '../body-budget.ts';
import { answerOnce } from '../idempotent.ts';

/**
 * OpenAI's Files API over the tenant's file store (docs/files.md): `POST /v1/files` (multipart, streamed to
 * disk), `GET /v1/files`, `GET /v1/files/{id}`, `GET /v1/files/{id}/content`, `DELETE /v1/files/{id}`. In a
 * Fastify scope of its own, the only one that parses multipart. Errors are OpenAI's envelope; an unknown id and
 * another tenant's get the same 404.
 */
export interface FilesRouteOptions {
  pipeline: Pipeline;
  budget: BodyBudget;
  files: FileStore;
  idempotency: Idempotency;
  logger: Pick<Logger, 'error'>;
}

/** OpenAI's bounds on `expires_after.seconds`: one hour to 30 days. */
const EXPIRES_MIN_S = 3_600;
const EXPIRES_MAX_S = 2_592_000;
const LIST_DEFAULT = 100;
const LIST_MAX = 10_000;
/** Rows read per page at most (a larger `limit` is served in pages of this size: `has_more` says so). */
const LIST_PAGE = 1_000;

export function registerFilesRoutes(app: FastifyInstance, options: FilesRouteOptions): void {
  const { pipeline, budget, files, idempotency, logger } = options;
  app.register(async (scope) => {
    await scope.register(multipart, {
      // Our own count enforces each purpose's limit while streaming; this is the parser's backstop.
      limits: {
        fileSize: files.largestUpload() + 1,
        files: 2,
        fields: 10,
        fieldSize: 4_096,
        parts: 12,
        headerPairs: 100,
      },
    });
    scope.setErrorHandler((err, req, reply) => {
      // The client went away (or was cut by server.requestTimeoutMs) mid-upload: nobody to answer, no fault of ours.
      const socket = req.raw.socket as typeof req.raw.socket | null;
      if (!socket || socket.destroyed) {
        reply.hijack();
        return;
      }
      const error = multipartError(err) ?? toClientError(err);
      if (error.code === 'internal_error') logger.error({ err, url: req.url }, 'files route error');
      // The body may not have been read to its end: the connection cannot carry another request.
      if (req.method === 'POST') reply.header('connection', 'close');
      return reply.code(error.status).send(openAIErrorBody(error));
    });
    const authenticate = authenticateFirst(pipeline, budget, (_req, reply, error) =>
      reply.code(error.status).send(openAIErrorBody(error)),
    );
    // Then the key's scopes (`files`) and client addresses, before a byte of the body is read.
    const access: onRequestHookHandler = (req, reply, done) => {
      const refused = keyAccess(callerOf(req), req.ip, 'files');
      if (!refused) return done();
      reply.header('connection', 'close').code(refused.status).send(openAIErrorBody(refused));
    };
    const onRequest = [authenticate, access];

    scope.post('/v1/files', { onRequest }, async (req, reply) => {
      const caller = callerOf(req);
      const key = keyOf(req.headers);
      if (key instanceof GatewayError) throw key;
      if (!req.isMultipart()) {
        throw new GatewayError('invalid_request', 'Send the file as multipart/form-data with fields file and purpose', {
          status: 415,
        });
      }
      // With a key, the quota waits for the commit: a retry of a stored upload must get its answer, not a 413.
      const upload = await readUpload(req, files, caller.tenantId, key === undefined);
      try {
        const { contentType } = files.accept(upload.staged, upload.purpose);
        return await answerOnce(
          reply,
          {
            idempotency,
            tenantId: caller.tenantId,
            key,
            logger,
            // The file's hash, not the multipart bytes: a retry's boundary differs, its content does not.
            fingerprint: () =>
              fingerprint(
                'POST',
                '/v1/files',
                JSON.stringify([
                  upload.purpose,
                  upload.staged.filename,
                  contentType,
                  upload.expiresAfterMs ?? null,
                  upload.staged.sha256,
                ]),
              ),
          },
          (inCommit) => commit(files, upload, contentType, inCommit),
        );
      } finally {
        await files.discard(upload.staged);
      }
    });

    scope.get<{ Querystring: Record<string, string | undefined> }>('/v1/files', { onRequest }, async (req, reply) => {
      const q = req.query;
      const limit = q['limit'] === undefined ? LIST_DEFAULT : Number(q['limit']);
      if (!Number.isInteger(limit) || limit < 1 || limit > LIST_MAX) {
        throw new GatewayError('invalid_request', `limit must be an integer from 1 to ${LIST_MAX}`, { param: 'limit' });
      }
      const order = q['order'] ?? 'desc';
      if (order !== 'asc' && order !== 'desc') {
        throw new GatewayError('invalid_request', 'order must be asc or desc', { param: 'order' });
      }
      const page = await files.list(callerOf(req).tenantId, {
        limit: Math.min(limit, LIST_PAGE),
        order,
        after: q['after'],
        purpose: q['purpose'],
      });
      const data = page.files.map(toOpenAIFile);
      return reply.send({
        object: 'list',
        data,
        first_id: data[0]?.id ?? null,
        last_id: data.at(-1)?.id ?? null,
        has_more: page.hasMore,
      });
    });

    scope.get<{ Params: { id: string } }>('/v1/files/:id', { onRequest }, async (req, reply) => {
      const meta = await files.get(callerOf(req).tenantId, req.params.id);
      if (!meta) throw fileNotFound(req.params.id);
      return reply.send(toOpenAIFile(meta));
    });

    scope.get<{ Params: { id: string } }>('/v1/files/:id/content', { onRequest }, async (req, reply) => {
      const opened = await files.open(callerOf(req).tenantId, req.params.id);
      if (!opened) throw fileNotFound(req.params.id);
      const { meta, stream } = opened;
      return reply
        .headers({
          'content-type': meta.contentType,
          'content-length': String(meta.bytes),
          'content-disposition': contentDisposition(meta.filename ?? meta.id),
          'x-content-type-options': 'nosniff',
          // Opened directly in a browser, the bytes run nothing (an uploaded page or SVG stays inert).
          'content-security-policy': "default-src 'none'; sandbox",
          'cache-control': 'private, no-store',
        })
        .send(stream);
    });

    scope.delete<{ Params: { id: string } }>('/v1/files/:id', { onRequest }, async (req, reply) => {
      const deleted = await files.delete(callerOf(req).tenantId, req.params.id);
      if (!deleted) throw fileNotFound(req.params.id);
      return reply.send({ id: req.params.id, object: 'file', deleted: true });
    });
  });
}

const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' };

interface Upload {
  staged: StagedFile;
  purpose: string;
  expiresAfterMs: number | undefined;
}

/**
 * Reads the multipart body: exactly one file in the field `file` (streamed to a temp file), `purpose`, and
 * optionally OpenAI's `expires_after[anchor]` and `expires_after[seconds]`. Other fields are ignored. When
 * `purpose` comes before the file, its size limit and types apply while the file streams; otherwise the largest
 * limit does and the purpose's own is checked at the end.
 */
async function readUpload(req: FastifyRequest, files: FileStore, tenantId: string, quota: boolean): Promise<Upload> {
  let staged: StagedFile | undefined;
  let purpose: string | undefined;
  let anchor: string | undefined;
  let seconds: string | undefined;
  try {
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file') {
          throw new GatewayError(
            'invalid_request',
            `Unexpected file in field ${clipped(part.fieldname)}; send it as file`,
            {
              param: 'file',
            },
          );
        }
        if (staged) throw new GatewayError('invalid_request', 'Send exactly one file per upload', { param: 'file' });
        const rules = purpose === undefined ? undefined : files.uploadPurpose(purpose);
        staged = await files.receive(
          tenantId,
          part.file,
          {
            declaredType: part.mimetype,
            filename: part.filename,
            maxBytes: rules?.maxBytes ?? files.largestUpload(),
            quota,
          },
          purpose === undefined ? undefined : files.headCheck(purpose),
        );
        continue;
      }
      const value = typeof part.value === 'string' ? part.value : String(part.value);
      if (part.fieldname === 'purpose') purpose = value;
      else if (part.fieldname === 'expires_after[anchor]') anchor = value;
      else if (part.fieldname === 'expires_after[seconds]') seconds = value;
    }
    if (!staged)
      throw new GatewayError('invalid_request', 'Missing the file: send it in the field file', { param: 'file' });
    if (purpose === undefined || purpose === '') {
      throw new GatewayError('invalid_request', 'Missing purpose', { param: 'purpose' });
    }
    return { staged, purpose, expiresAfterMs: expiresAfter(anchor, seconds) };
  } catch (err) {
    if (staged) await files.discard(staged);
    throw err;
  }
}

function expiresAfter(anchor: string | undefined, seconds: string | undefined): number | undefined {
  if (anchor === undefined && seconds === undefined) return undefined;
  if (anchor !== 'created_at') {
    throw new GatewayError('invalid_request', 'expires_after[anchor] must be created_at', {
      param: 'expires_after.anchor',
    });
  }
  const s = Number(seconds);
  if (!Number.isInteger(s) || s < EXPIRES_MIN_S || s > EXPIRES_MAX_S) {
    throw new GatewayError(
      'invalid_request',
      `expires_after[seconds] must be an integer from ${EXPIRES_MIN_S} to ${EXPIRES_MAX_S}`,
      { param: 'expires_after.seconds' },
    );
  }
  return s * 1000;
}

async function commit(
  files: FileStore,
  upload: Upload,
  contentType: string,
  inCommit?: (trx: Kysely<Database>, response: StoredResponse) => Promise<void>,
): Promise<StoredResponse> {
  const answer = (meta: FileMeta): StoredResponse => ({
    status: 200,
    headers: JSON_TYPE,
    body: JSON.stringify(toOpenAIFile(meta)),
  });
  // With an Idempotency-Key, its answer commits with the file's row (answerOnce).
  let stored: StoredResponse | undefined;
  const meta = await files.commit(
    upload.staged,
    { purpose: upload.purpose, contentType, expiresAfterMs: upload.expiresAfterMs },
    inCommit &&
      ((trx, m) => {
        stored = answer(m);
        return inCommit(trx, stored);
      }),
  );
  return stored ?? answer(meta);
}

/** `attachment` with the name quoted safely: ASCII fallback plus RFC 8187's UTF-8 form. */
function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** @fastify/multipart's own errors → the 12 codes. */
function multipartError(err: unknown): GatewayError | undefined {
  const code = (err as { code?: string } | undefined)?.code;
  switch (code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new GatewayError('invalid_request', 'The file is larger than any purpose accepts', {
        param: 'file',
        status: 413,
      });
    case 'FST_FILES_LIMIT':
      return new GatewayError('invalid_request', 'Send exactly one file per upload', { param: 'file' });
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new GatewayError('invalid_request', 'Too many fields in the upload: send file and purpose');
    case 'FST_PROTO_VIOLATION':
      return new GatewayError('invalid_request', 'Invalid field name in the upload');
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new GatewayError('invalid_request', 'Send the file as multipart/form-data', { status: 415 });
    default:
      return undefined;
  }
}
