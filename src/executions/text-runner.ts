import { isChatModel } from '../billing/catalog-types.ts';
import { type Catalog, resolveModelRef } from '../catalog/catalog.ts';
import { GatewayError } from '../core/errors.ts';
import type { ExecutionModel, ExecutionRunner, RunContext, RunResult } from '../core/execution-contracts.ts';
import type { ChatRequest } from '../core/ir.ts';
import type { Caller, RequestContext } from '../pipeline/context.ts';
import { mostItCanCost } from '../pipeline/hold.ts';
import type { Pipeline } from '../pipeline/pipeline.ts';
import { parseOpenAIRequest } from '../protocols/openai-chat/parse-openai-request.ts';
import { renderOpenAIResponse } from '../protocols/openai-chat/render-openai-response.ts';
import { parseModelField, type RouteDecision, type Router } from '../router/router.ts';
import { runRequestId } from './ids.ts';

/**
 * The runner of kind `text`: the input is a Chat Completions request body, decoded with the OpenAI chat codec
 * and run non-streaming through the pipeline exactly as `POST /v1/chat/completions` would (routing, failover,
 * metering, the usage record, whose request id is `exec_…-<attempt>`). The execution's model slug replaces
 * the body's `model`. The output is the first choice's text and its assistant message.
 */
export interface TextRunnerDeps {
  pipeline: Pipeline;
  catalog: Catalog;
  router: Router;
}

/** What the worker passes every runner besides the contract's context: the caller the execution was submitted by. */
export interface CallerRunContext extends RunContext {
  caller: Caller;
}

export class TextRunner implements ExecutionRunner {
  readonly kinds = ['text'] as const;
  readonly #deps: TextRunnerDeps;

  constructor(deps: TextRunnerDeps) {
    this.#deps = deps;
  }

  /** A tier (`utility`, `fast`, `deep`, `auto`, with an optional `:preset`) or a catalog chat model. */
  readonly resolve = (slug: string): ExecutionModel | undefined => {
    let parsed: ReturnType<typeof parseModelField>;
    try {
      parsed = parseModelField(slug);
    } catch {
      return undefined;
    }
    if (parsed.kind !== 'model') return { id: slug, kind: 'text' };
    const chat = resolveModelRef(this.#deps.catalog, parsed.ref!).filter((m) => isChatModel(m));
    if (chat.length === 0) return undefined;
    return { id: chat.length === 1 ? chat[0]!.id : slug, kind: 'text' };
  };

  validate(model: ExecutionModel, input: unknown): void {
    this.#decode(model, input);
  }

  /** An upper bound without the caller's policy: the most the request can cost on any model the slug may reach. */
  estimateNanoUsd(model: ExecutionModel, input: unknown): number {
    const request = this.#decode(model, input);
    const parsed = parseModelField(model.id);
    const candidates =
      parsed.kind === 'model'
        ? resolveModelRef(this.#deps.catalog, parsed.ref!)
        : this.#deps.catalog.models.filter((m) => isChatModel(m));
    return mostItCanCost(request, { candidates } as RouteDecision);
  }

  /**
   * The submission's view of the input (validated once): the chat request admission counts (the key's tpm) and
   * `plan` bounds.
   */
  prepare(model: ExecutionModel, input: unknown): ChatRequest {
    return this.#decode(model, input);
  }

  /**
   * The hold of the submission: the most the request can cost on the candidates routing gives this caller
   * (as a chat request's hold, pipeline/hold.ts); and the provider routing puts first, which the worker's
   * per-provider concurrency counts the execution against. Routing errors (no model able to serve it) are the
   * caller's, at submission.
   */
  async plan(
    model: ExecutionModel,
    input: unknown,
    caller: Caller,
    prepared?: unknown,
  ): Promise<{ estimateNanoUsd: number; provider: string | null }> {
    const request = (prepared as ChatRequest | undefined) ?? this.#decode(model, input);
    const decision = await this.#deps.router.route(request, caller.policy);
    return { estimateNanoUsd: mostItCanCost(request, decision), provider: decision.candidates[0]?.provider ?? null };
  }

  async run(model: ExecutionModel, input: unknown, ctx: RunContext): Promise<RunResult> {
    const caller = (ctx as Partial<CallerRunContext>).caller;
    if (!caller) throw new GatewayError('internal_error', 'Internal error: the text runner needs the caller');
    const request = this.#decode(model, input);
    const requestCtx: RequestContext = {
      requestId: runRequestId(ctx.executionId, ctx.attempt),
      at: Date.now(),
      startedAt: performance.now(),
      signal: ctx.signal,
      abort: () => {},
      protocol: 'openai-chat',
      clientIp: '',
      caller,
      request,
      execution: { id: ctx.executionId },
    };
    const handled = await this.#deps.pipeline.handle(requestCtx);
    if (handled.kind === 'error') throw handled.error;
    if (handled.kind !== 'completion') throw new GatewayError('internal_error', 'Internal error: unexpected stream');
    const body = handled.mode === 'passthrough' ? handled.response.json : renderOpenAIResponse(handled.response);
    const choices = Array.isArray(body['choices']) ? (body['choices'] as Array<Record<string, unknown>>) : [];
    const first = choices[0];
    const message = (first?.['message'] ?? {}) as Record<string, unknown>;
    const data: Record<string, unknown> = { message, finish_reason: first?.['finish_reason'] ?? null };
    if (choices.length > 1) data['choices'] = choices;
    const usage = handled.response.usage;
    return {
      output: { ...(typeof message['content'] === 'string' ? { text: message['content'] } : {}), data },
      usage: { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens },
      costNanoUsd: handled.costNano,
      servedBy: handled.served.target.model.id,
    };
  }

  /** The input as a chat request with the execution's model, non-streaming; errors name `input.<field>`. */
  #decode(model: ExecutionModel, input: unknown): ChatRequest {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      throw new GatewayError('invalid_request', 'For a text model, input must be a Chat Completions request body', {
        param: 'input',
      });
    }
    const body = input as Record<string, unknown>;
    if (body['stream'] === true) {
      throw new GatewayError('invalid_request', 'An execution runs without streaming: leave stream unset', {
        param: 'input.stream',
      });
    }
    try {
      return parseOpenAIRequest({ ...body, model: model.id, stream: false });
    } catch (err) {
      if (err instanceof GatewayError && err.code === 'invalid_request') {
        throw new GatewayError('invalid_request', err.message, { param: err.param ? `input.${err.param}` : 'input' });
      }
      throw err;
    }
  }
}
