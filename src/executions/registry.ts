import { GatewayError } from '../core/errors.ts';
import type { ExecutionKind, ExecutionModel, ExecutionRunner } from '../core/execution-contracts.ts';

/**
 * The runners by kind, and which models each can run: the text runner (text-runner.ts) resolves tiers and
 * catalog chat models; media runners (src/providers/media/) are added with their own resolver. A slug is
 * resolved by the first runner that knows it.
 */
export type ModelResolver = (slug: string) => ExecutionModel | undefined;

export class RunnerRegistry {
  readonly #byKind = new Map<ExecutionKind, ExecutionRunner>();
  readonly #resolvers: ModelResolver[] = [];

  add(runner: ExecutionRunner, resolve: ModelResolver): this {
    for (const kind of runner.kinds) this.#byKind.set(kind, runner);
    this.#resolvers.push(resolve);
    return this;
  }

  /** The model a slug names and the runner of its kind; not_found (param `model`) when no runner knows it. */
  resolve(slug: string): { model: ExecutionModel; runner: ExecutionRunner } {
    for (const resolve of this.#resolvers) {
      const model = resolve(slug);
      const runner = model && this.#byKind.get(model.kind);
      if (model && runner) return { model, runner };
    }
    throw new GatewayError(
      'not_found',
      `The model '${slug.slice(0, 100)}' does not exist or cannot run as an execution. GET /v1/models lists the models you can use.`,
      { param: 'model' },
    );
  }

  runnerFor(kind: string): ExecutionRunner | undefined {
    return this.#byKind.get(kind as ExecutionKind);
  }
}
